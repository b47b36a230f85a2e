"""The columns of each curated dataset and how rows become Arrow tables.

Every dataset has fixed columns (always present, always the same type) and, for
``signals``, ``quality`` and ``heartbeats``, open-ended float64 columns: one per signal
name, per quality metric (``q_<name>``), per numeric heartbeat field. A part file holds the
open-ended columns its rows had; readers unify the parts' schemas (a column missing in
an older part reads as null), so a new signal in a newer agent just adds a column.

``site`` and ``date`` are not stored in the files: they are the Hive partition columns of
the path, as Athena, Trino and Spark expect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
FLAGS = pa.list_(pa.string())
PARTITION = pa.schema([("site", pa.string()), ("date", pa.string())])
_COLUMN = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class DatasetSpec:
    """One curated dataset: its fixed columns (head, then open-ended float64 columns, then
    tail), the time column rows are sorted by, and the prefix of its open-ended columns."""

    name: str
    head: tuple[pa.Field, ...]
    tail: tuple[pa.Field, ...]
    time: str
    open_prefix: str = ""

    @property
    def fixed(self) -> frozenset[str]:
        return frozenset(f.name for f in (*self.head, *self.tail)) | set(PARTITION.names)

    def base_schema(self) -> pa.Schema:
        """The fixed columns plus the partition columns: what an empty dataset looks like."""
        return pa.schema([*PARTITION, *self.head, *self.tail])

    def schema_for(self, open_names: Sequence[str]) -> pa.Schema:
        """The file schema for rows whose open-ended columns are ``open_names``."""
        extra = [pa.field(n, pa.float64()) for n in sorted(set(open_names) - self.fixed)]
        return pa.schema([*self.head, *extra, *self.tail])


def _f(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind)


_STR, _F64, _I64, _BOOL = pa.string(), pa.float64(), pa.int64(), pa.bool_()

SPECS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec(
            "signals",
            head=(_f("ts", TIMESTAMP), _f("camera", _STR), _f("zone", _STR),
                  _f("trusted", _BOOL), _f("flags", FLAGS)),
            tail=(_f("model_label", _STR), _f("model_confidence", _F64),
                  _f("model_entropy", _F64), _f("model_version", _STR), _f("batch_key", _STR),
                  _f("image_sha256", _STR), _f("file", _STR)),
            time="ts",
        ),
        DatasetSpec(
            "quality",
            head=(_f("ts", TIMESTAMP), _f("camera", _STR), _f("status", _STR),
                  _f("reason", _STR), _f("ok", _BOOL), _f("flags", FLAGS)),
            tail=(_f("shift_x", _F64), _f("shift_y", _F64), _f("width", _I64),
                  _f("height", _I64), _f("sample_key", _STR), _f("sample_reason", _STR),
                  _f("batch_key", _STR), _f("image_sha256", _STR), _f("file", _STR)),
            time="ts",
            open_prefix="q_",
        ),
        DatasetSpec(
            "alerts",
            head=(_f("at", TIMESTAMP), _f("since", TIMESTAMP), _f("camera", _STR),
                  _f("zone", _STR), _f("rule", _STR), _f("state", _STR), _f("severity", _STR),
                  _f("what", _STR), _f("message", _STR), _f("episode", _STR),
                  _f("evidence_key", _STR), _f("why", _STR), _f("object_key", _STR)),
            tail=(),
            time="at",
        ),
        DatasetSpec(
            "heartbeats",
            head=(_f("at", TIMESTAMP), _f("device", _STR), _f("agent_version", _STR),
                  _f("model_version", _STR), _f("uptime_s", _F64)),
            tail=(_f("raw", _STR), _f("object_key", _STR)),
            time="at",
        ),
        DatasetSpec(
            "images",
            head=(_f("ts", TIMESTAMP), _f("camera", _STR), _f("kind", _STR), _f("key", _STR),
                  _f("reason", _STR), _f("mode", _STR), _f("bytes", _I64)),
            tail=(),
            time="ts",
        ),
        DatasetSpec(
            "model_reports",
            head=(_f("at", TIMESTAMP), _f("event", _STR), _f("version", _STR),
                  _f("reason", _STR)),
            tail=(_f("raw", _STR), _f("object_key", _STR)),
            time="at",
        ),
    )
}


@lru_cache(maxsize=4096)  # the same few dozen names come in every record of every batch
def column_name(name: str, prefix: str = "") -> str | None:
    """An open-ended column's name: lower case, ``[a-z0-9_]``; None if nothing usable
    remains (the value then lives only in the row's raw JSON)."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", f"{prefix}{name}".lower()).strip("_")
    return cleaned if _COLUMN.fullmatch(cleaned) else None


def to_table(dataset: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts of fixed and open-ended values) as a table sorted by time.

    Open-ended columns are the keys that are not fixed columns; each is float64.
    """
    spec = SPECS[dataset]
    open_names = {k for row in rows for k in row} - spec.fixed
    table = pa.Table.from_pylist(list(rows), schema=spec.schema_for(sorted(open_names)))
    return table.sort_by([(spec.time, "ascending")])


def unify(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate tables whose open-ended columns differ (missing columns become null)."""
    schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    return pa.concat_tables(
        [t.select([n for n in schema.names if n in t.column_names]) for t in tables],
        promote_options="permissive",
    ).select(schema.names)
