"""Saved queries: ``.sql`` files in ``cloudjobs/query/saved/``, run by name with parameters.

A saved query starts with ``--`` comment lines: its description, then one line per
parameter::

    -- param days = 7: length of a period in days

Parameters reach DuckDB as named parameters (``$days``), always as strings: the SQL casts
them (``CAST($days AS INTEGER)``), so a value is data, never spliced into the SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cloudjobs.query.engine import QueryError

_PARAM = re.compile(r"--\s*param\s+([a-z_][a-z0-9_]*)\s*=\s*(.*?)\s*:\s+(.+)")


@dataclass(frozen=True)
class Param:
    """One parameter of a saved query."""

    name: str
    default: str
    description: str


@dataclass(frozen=True)
class SavedQuery:
    """A saved query: its name (the file stem), what it answers, its parameters, its SQL."""

    name: str
    description: str
    params: tuple[Param, ...]
    sql: str

    def bind(self, given: Mapping[str, str]) -> dict[str, str]:
        """Every parameter's value: ``given`` over the defaults; unknown names refused."""
        known = {p.name for p in self.params}
        if unknown := sorted(set(given) - known):
            offered = ", ".join(f"{p.name} (default {p.default!r})" for p in self.params)
            raise QueryError(f"saved query {self.name!r} has no parameter "
                             f"{', '.join(unknown)}; it takes: {offered or 'none'}")
        return {p.name: given.get(p.name, p.default) for p in self.params}


def parse_saved(name: str, text: str) -> SavedQuery:
    """A saved query from its file text (module docstring for the header)."""
    description, params = [], []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        if m := _PARAM.fullmatch(line.strip()):
            params.append(Param(m[1], m[2], m[3]))
        else:
            description.append(line[2:].strip())
    return SavedQuery(name, " ".join(d for d in description if d), tuple(params), text)


def saved_dir() -> Path:
    """The folder of the shipped saved queries."""
    return Path(str(resources.files("cloudjobs.query") / "saved"))


def saved_queries(folder: Path | None = None) -> dict[str, SavedQuery]:
    """Every saved query by name."""
    where = folder or saved_dir()
    return {p.stem: parse_saved(p.stem, p.read_text(encoding="utf-8"))
            for p in sorted(where.glob("*.sql"))}


def get_saved(name: str, folder: Path | None = None) -> SavedQuery:
    """One saved query; ``QueryError`` naming the others if there is none by that name."""
    queries = saved_queries(folder)
    if name not in queries:
        raise QueryError(f"no saved query {name!r}; saved queries: "
                         f"{', '.join(queries) or 'none'} (cloudjobs query --list)")
    return queries[name]
