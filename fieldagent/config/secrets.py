"""Credentials kept out of the site config: camera passwords, S3 keys, SMTP and webhook tokens.

The site config names an entry (``secret: cam2``); the value lives in a separate YAML file
that only the agent's user can read (the Ansible role writes it from a vault, mode 0600)::

    cam2:   {username: admin, password: "..."}
    s3:     {access_key_id: "...", secret_access_key: "..."}
    ntfy:   {token: "..."}

Every entry is a mapping of strings. An environment variable
``FIELDAGENT_SECRET_<NAME>_<FIELD>`` (upper case, ``-`` as ``_``) overrides one field, for
containers and CI. Values never appear in errors or logs: only file, entry and field names.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from fieldagent.config.loader import read_yaml
from fieldagent.errors import ConfigError

log = logging.getLogger(__name__)


class SecretStore:
    """Named credential entries, read once at start."""

    def __init__(
        self, entries: Mapping[str, Mapping[str, str]] | None = None, source: str = "<none>",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._entries = {k: dict(v) for k, v in (entries or {}).items()}
        self.source = source
        self._environ = os.environ if environ is None else environ

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None,
             environ: Mapping[str, str] | None = None) -> SecretStore:
        """Read the secrets file; a missing optional file (``None``) gives an empty store."""
        if path is None:
            return cls(environ=environ)
        p = Path(path)
        if not p.is_file():
            raise ConfigError([f"{p}: the secrets file does not exist; create it (mode 0600) "
                               "or remove secrets_file from the site config"])
        mode = p.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError([f"{p}: the secrets file is open to other users (mode "
                               f"{stat.S_IMODE(mode):o}); only the agent's user may read it: "
                               f"run: chmod 600 {p}"])
        data = read_yaml(p) or {}
        problems: list[str] = []
        if not isinstance(data, dict):
            raise ConfigError([f"{p}: expected a mapping of entry names, "
                               f"got {type(data).__name__}"])
        entries: dict[str, dict[str, str]] = {}
        for name, entry in data.items():
            if not isinstance(entry, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int) for k, v in entry.items()
            ):
                problems.append(f"{p}: {name}: each entry must map field names to strings, "
                                "e.g. {username: admin, password: \"...\"}")
                continue
            entries[str(name)] = {k: str(v) for k, v in entry.items()}
        if problems:
            raise ConfigError(problems)
        return cls(entries, str(p), environ)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> dict[str, str]:
        """The entry's fields (environment overrides applied); ConfigError if it is absent."""
        entry = dict(self._entries.get(name, {}))
        prefix = f"FIELDAGENT_SECRET_{name.upper().replace('-', '_')}_"
        for key, value in self._environ.items():
            if key.startswith(prefix):
                entry[key[len(prefix):].lower()] = value
        if not entry:
            raise ConfigError([f"{self.source}: {name}: no such secrets entry; add it to the "
                               f"secrets file or set {prefix}<FIELD> in the environment"])
        return entry

    def field(self, name: str, key: str) -> str:
        """One field of an entry, with a clear error naming what is missing."""
        entry = self.get(name)
        if key not in entry:
            raise ConfigError([f"{self.source}: {name}.{key}: missing; the entry has "
                               f"{', '.join(sorted(entry)) or 'no fields'}"])
        return entry[key]
