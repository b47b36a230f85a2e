"""Policy keys that existed once and are gone: what a policy file that still has one is told.

A removed key whose value did nothing is accepted with a warning that says to delete the
line (as Docker Compose does for its obsolete ``version``): refusing it would stop every
agent of a fleet at its upgrade over a line that never changed anything. Any other value is
refused at start: it asked for something the agent cannot do, and accepting it silently is
what made the key dangerous in the first place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldagent.config.loader import NO_LINES, YamlIndex, format_problem
from fieldagent.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemovedKey:
    """One key that is gone: where it was, the value that did nothing, and why it went."""

    path: tuple[str, str]
    harmless: object
    why: str


REMOVED = (
    RemovedKey(
        ("batching", "schema_version"), 1,
        "the record version is fixed by the agent's contract with the cloud "
        "(fieldcontract.CONTRACT_VERSION), not by a policy: the cloud reads exactly what "
        "the agent writes, and with any other value it rejected every batch",
    ),
)


def drop_removed(data: Mapping[str, Any], source: str,
                 lines: YamlIndex = NO_LINES) -> dict[str, Any]:
    """``data`` without the removed keys; a warning for a harmless value, ``ConfigError``
    (one line per key, ``file: key.path: value: what to do``) for any other."""
    out = dict(data)
    problems = []
    for removed in REMOVED:
        section, key = removed.path
        part = out.get(section)
        if not isinstance(part, dict) or key not in part:
            continue
        value = part[key]
        out[section] = {k: v for k, v in part.items() if k != key}
        if value == removed.harmless and type(value) is type(removed.harmless):
            log.warning("%s", format_problem(
                source, removed.path, value, f"this key is gone and is ignored: {removed.why}; "
                "delete the line", lines))
        else:
            problems.append(format_problem(
                source, removed.path, value, f"this key is gone: {removed.why}; delete the "
                "line", lines))
    if problems:
        raise ConfigError(problems)
    return out
