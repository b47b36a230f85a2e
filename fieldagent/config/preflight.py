"""What ``fieldagent run`` needs from the machine, checked before it starts.

``check-config`` and ``run`` call the same ``preflight`` so they agree: a config that
check-config accepts does not fail at start for a folder, a secret or an uplink target.

* folders the agent must write (data_dir, every inbox, quarantine and snapshot folders)
  exist as folders it may write, or can be created (their nearest existing parent is
  writable); checked as the user running the check, named in the message;
* the secrets file exists, is mode 0600 and holds every ``secret:`` the config names
  (or the environment gives it: ``FIELDAGENT_SECRET_<NAME>_<FIELD>``); values are never
  printed;
* the interpreter is Python 3.11 or newer (the package says so too, but an agent copied
  into an older virtualenv by hand would otherwise fail later on a syntax or library error);
* a ``file://`` uplink target exists (the agent never creates it: a missing mount must not
  fill the system disk); with ``online=True`` an ``s3://`` bucket is asked for (HeadBucket).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fieldagent.config.secrets import SecretStore
from fieldagent.config.site import InboxSource, SiteConfig
from fieldagent.datadir import DataDir
from fieldagent.errors import ConfigError


def preflight(cfg: SiteConfig, config_path: Path, *, online: bool = False) -> list[str]:
    """Every problem ``run`` would meet at start (module docstring); empty when none."""
    base = config_path.resolve().parent
    where = str(config_path)
    problems = [*python_problems(), *_folder_problems(cfg, base, where),
                *_secret_problems(cfg, base, where)]
    problems += _uplink_problems(cfg, base, where, online, problems)
    return problems


MIN_PYTHON = (3, 11)


def python_problems(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> list[str]:
    """A refusal when ``version`` (this interpreter's by default) is older than 3.11."""
    if tuple(version[:2]) >= MIN_PYTHON:
        return []
    found = ".".join(str(v) for v in version)
    return [f"{sys.executable}: Python {found}: fieldagent needs Python 3.11 or newer; "
            "create its virtualenv from a newer interpreter (e.g. python3.11 -m venv ...)"]


def resolve(base: Path, p: str | os.PathLike[str]) -> Path:
    """A config path as the agent resolves it: relative to the config file's folder."""
    path = Path(p).expanduser()
    return path if path.is_absolute() else base / path


def _folders(cfg: SiteConfig, base: Path) -> Iterator[tuple[str, Path]]:
    data = DataDir.of_site(cfg, base)
    yield "data_dir", data.root
    for i, cam in enumerate(cfg.cameras):
        if isinstance(cam.source, InboxSource):
            yield f"cameras[{i}].source.path", resolve(base, cam.source.path)
    yield "sources.quarantine_dir", data.quarantine
    yield "sources.snapshot_dir", data.snapshots


def _folder_problems(cfg: SiteConfig, base: Path, where: str) -> Iterator[str]:
    user = getpass.getuser()
    for key, folder in _folders(cfg, base):
        if folder.exists():
            if not folder.is_dir():
                yield f"{where}: {key}: {str(folder)!r}: exists but is not a folder"
            elif not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                yield (f"{where}: {key}: {str(folder)!r}: user {user} may not read and write "
                       f"in it; e.g. sudo chown {user} {folder}")
            continue
        parent = next(p for p in folder.parents if p.exists())
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            yield (f"{where}: {key}: {str(folder)!r}: does not exist and user {user} cannot "
                   f"create it ({parent} is not writable); create it, e.g. "
                   f"sudo install -d -o {user} {folder}")


def secret_names(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    """(key path, entry name) of every ``secret:`` set anywhere in ``model``."""
    for name in type(model).model_fields:
        value: Any = getattr(model, name)
        here = f"{path}.{name}" if path else name
        if name == "secret" and isinstance(value, str):
            yield here, value
        elif isinstance(value, BaseModel):
            yield from secret_names(value, here)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from secret_names(item, f"{here}[{i}]")


def _secret_problems(cfg: SiteConfig, base: Path, where: str) -> list[str]:
    wanted = list(secret_names(cfg))
    if cfg.secrets_file is None:
        store = SecretStore()
    else:
        try:
            store = SecretStore.load(resolve(base, cfg.secrets_file))
        except ConfigError as exc:
            return [f"{where}: secrets_file: {cfg.secrets_file!r}: {p}" for p in exc.problems]
    out = []
    for key, name in wanted:
        try:
            store.get(name)
        except ConfigError:
            source = cfg.secrets_file or "(no secrets_file configured)"
            out.append(f"{where}: {key}: {name!r}: no entry {name!r} in the secrets file "
                       f"{source} (nor FIELDAGENT_SECRET_{name.upper().replace('-', '_')}_* "
                       "in the environment)")
    return out


def _uplink_problems(cfg: SiteConfig, base: Path, where: str, online: bool,
                     earlier: list[str]) -> list[str]:
    target = cfg.uplink.target
    if target.startswith("file://"):
        folder = resolve(base, target[len("file://"):])
        if not folder.is_dir():
            return [f"{where}: uplink.target: {target!r}: the folder {folder} does not exist; "
                    "the agent never creates it (a missing mount must not fill this disk): "
                    "create or mount it first"]
        return []
    if not online or any("secrets" in p for p in earlier):
        return []
    return _bucket_problems(cfg, base, where)


def _bucket_problems(cfg: SiteConfig, base: Path, where: str) -> list[str]:
    """HeadBucket on the uplink target through the agent's own transport."""
    from fieldagent.uplink.transport import open_transport

    u = cfg.uplink
    store = SecretStore.load(resolve(base, cfg.secrets_file) if cfg.secrets_file else None)
    creds = store.get(u.secret) if u.secret else None
    try:
        transport = open_transport(u.target, endpoint_url=u.endpoint_url, region=u.region,
                                   credentials=creds)
        transport.exists("fieldagent-check-config-probe")  # HEAD: reachable, bucket, rights
    except Exception as exc:  # any failure to reach it is the answer
        return [f"{where}: uplink.target: {u.target!r}: cannot be reached with the "
                f"configured credentials: {exc}"]
    return []
