"""Small tools the lake tests share: reading a lake back, and a store that crashes on cue."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cloudjobs.lake.layout import DATASETS
from cloudjobs.query.engine import open_dataset
from cloudjobs.store import LocalStore, ObjectStore


def rows(store: ObjectStore, dataset: str) -> list[dict[str, Any]]:
    """Every row of a dataset, in a canonical order (so two lakes compare with ==)."""
    table = open_dataset(store, dataset).to_table()
    found = table.to_pylist()
    return sorted(found, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def counts(store: ObjectStore) -> dict[str, int]:
    """Rows per ingest dataset."""
    return {d: open_dataset(store, d).count_rows() for d in DATASETS}


def files_per_partition(store: ObjectStore) -> dict[str, int]:
    """Part files per curated partition folder."""
    out: dict[str, int] = {}
    for info in store.list("curated/"):
        folder = info.key.rsplit("/", 1)[0]
        out[folder] = out.get(folder, 0) + 1
    return out


def copy_objects(src: ObjectStore, dst: ObjectStore, keys: Iterable[str]) -> None:
    for key in keys:
        dst.put(key, src.get(key))


class Crash(Exception):
    """Stands for the process dying at this point: nothing after it runs, nothing cleans up
    (the jobs only catch the project's own errors and OSError)."""


class FaultyStore(LocalStore):
    """A real LocalStore over ``root`` that crashes once at the first operation ``when``
    matches (``when(op, key)``, op is ``put``/``copy``/``delete``), or runs ``before``
    there first (another run interleaving) and then carries on."""

    def __init__(self, root: Path, when: Callable[[str, str], bool],
                 before: Callable[[], object] | None = None) -> None:
        super().__init__(root)
        self.when, self.before, self.fired = when, before, False

    def _hit(self, op: str, key: str) -> None:
        if self.fired or not self.when(op, key):
            return
        self.fired = True
        if self.before is None:
            raise Crash(f"{op} {key}")
        self.before()

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> bool:
        self._hit("put", key)
        return super().put(key, data, create_only=create_only)

    def copy(self, src: str, dst: str) -> None:
        self._hit("copy", dst)
        super().copy(src, dst)

    def delete(self, key: str) -> None:
        self._hit("delete", key)
        super().delete(key)
