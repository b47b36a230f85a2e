"""SQL over the lake: DuckDB with every curated dataset registered as a view by its name.

Each dataset under ``curated/`` is opened as a pyarrow dataset (Hive partitioning, the
files listed once, their schemas unified so a column added by a newer part reads as null
in older ones) over the store's pyarrow filesystem (``S3FileSystem`` with the endpoint
override for S3), and registered in an in-memory DuckDB. DuckDB pushes column selection
and ``site``/``date`` filters down into the pyarrow scan, so a query over one site-day reads
only that partition's files. No DuckDB extensions are needed (works offline).

The six ingest datasets always exist as views, empty with their fixed columns when the
lake has none yet, so a query does not fail just because no site sent heartbeats yet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from cloudjobs.lake import layout
from cloudjobs.lake.schema import SPECS
from cloudjobs.query.crops import CROPS_SCHEMA, load_crops
from cloudjobs.store import ObjectStore
from fieldagent.errors import FieldAgentError

_HIDDEN = "_arrow_"  # registered arrow scans; the views on top are what people query
_SEGMENT = re.compile(r"([a-z_][a-z0-9_]*)=[^/]+")


class QueryError(FieldAgentError):
    """A query failed; the message holds DuckDB's words and what the lake offers."""


def dataset_files(store: ObjectStore) -> dict[str, list[str]]:
    """Parquet keys under ``curated/`` by dataset name (the first folder), one listing."""
    found: dict[str, list[str]] = defaultdict(list)
    for info in store.list(layout.CURATED):
        name, _, rest = info.key[len(layout.CURATED):].partition("/")
        if rest and info.key.endswith(".parquet"):
            found[name].append(info.key)
    return dict(found)


def open_dataset(store: ObjectStore, name: str, keys: list[str] | None = None) -> ds.Dataset:
    """One curated dataset as a pyarrow dataset (partition columns are strings).

    ``keys`` are its files if already listed; an empty dataset of a known name has the
    fixed columns; an unknown name with no files is a ``QueryError``.
    """
    keys = dataset_files(store).get(name, []) if keys is None else keys
    if not keys:
        if name in SPECS:
            return ds.dataset(SPECS[name].base_schema().empty_table())
        raise QueryError(f"{store.url}: no dataset {name!r} under {layout.CURATED}")
    fs, base = store.arrow_fs()
    root = f"{base}/{layout.CURATED}{name}"
    paths = [f"{base}/{k}" for k in keys]
    fields = _partition_fields(keys[0][len(layout.CURATED) + len(name) + 1:])
    partitioning = ds.partitioning(pa.schema([(f, pa.string()) for f in fields]), flavor="hive")
    first = ds.dataset(paths, filesystem=fs, format="parquet", partitioning=partitioning,
                       partition_base_dir=root)
    schemas = [f.physical_schema for f in first.get_fragments()]
    schema = pa.unify_schemas([*schemas, partitioning.schema], promote_options="permissive")
    return ds.dataset(paths, filesystem=fs, format="parquet", partitioning=partitioning,
                      partition_base_dir=root, schema=schema)


def _partition_fields(relative: str) -> list[str]:
    """Partition names in a file's path below its dataset (``site=x/date=y/part.parquet``)."""
    folders = relative.split("/")[:-1]
    return [m[1] for f in folders if (m := _SEGMENT.fullmatch(f))]


class Lake:
    """An open DuckDB connection with the lake's datasets as views.

    ``crops`` is an optional YAML mapping of zones to crops (``query.crops``), exposed as
    the ``zone_crops`` view (empty without it).
    """

    def __init__(self, store: ObjectStore, *, crops: Path | None = None) -> None:
        self.store = store
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")  # hour(), date parts: UTC like the lake
        files = dataset_files(store)
        for name in sorted(set(files) | set(SPECS)):
            self._register(name, open_dataset(store, name, files.get(name, [])))
        rows = load_crops(crops) if crops else []
        self._register("zone_crops", ds.dataset(pa.Table.from_pylist(rows, schema=CROPS_SCHEMA)))

    def _register(self, name: str, dataset: ds.Dataset) -> None:
        """The arrow dataset under a hidden name, and a view with the partition columns
        first (``site``, ``date``, then the file's columns)."""
        hidden = f"{_HIDDEN}{name}"
        self.con.register(hidden, dataset)
        names = dataset.schema.names
        first = [c for c in ("site", "date") if c in names]
        rest = f"* EXCLUDE ({', '.join(first)})" if first else "*"
        head = "".join(f"{c}, " for c in first)
        self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT {head}{rest} '
                         f'FROM "{hidden}"')

    def views(self) -> dict[str, list[tuple[str, str]]]:
        """Every view with its (column, type) pairs, in column order."""
        rows = self.con.execute(
            "SELECT v.view_name, c.column_name, c.data_type FROM duckdb_views() v "
            "JOIN information_schema.columns c ON c.table_name = v.view_name "
            f"WHERE NOT v.internal AND NOT starts_with(v.view_name, '{_HIDDEN}') "
            "ORDER BY v.view_name, c.ordinal_position"
        ).fetchall()
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for view, column, kind in rows:
            out[view].append((column, kind))
        return dict(out)

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run ``query`` (named parameters ``$name`` from ``params``); the last statement's
        result as a table (empty for statements that return nothing)."""
        try:
            relation = self.con.sql(query, params=dict(params) if params else None)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as exc:
            raise QueryError(f"the query failed: {exc}\n\n{self.describe()}") from exc

    def describe(self) -> str:
        """The views and their columns, for error messages and ``--views``."""
        lines = ["views (columns):"]
        for view, columns in self.views().items():
            lines.append(f"  {view}: " + ", ".join(f"{c} {t.lower()}" for c, t in columns))
        return "\n".join(lines)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
