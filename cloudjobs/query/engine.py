"""SQL over the lake: DuckDB with every curated dataset registered as a view by its name.

Each dataset under ``curated/`` is opened by the lake's reader (``cloudjobs.lake.reader``:
``curated/`` listed once, Hive partitions as strings, the parts' schemas unified so a column
added by a newer part reads as null in older ones) over the store's pyarrow filesystem
(``S3FileSystem`` with the endpoint override for S3), and registered in an in-memory
DuckDB. DuckDB pushes column selection and ``site``/``date`` filters down into the pyarrow
scan, so a query over one site-day reads only that partition's files. No DuckDB extensions
are needed (works offline).

The six ingest datasets always exist as views, empty with their fixed columns when the
lake has none yet, so a query does not fail just because no site sent heartbeats yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from cloudjobs.lake.location import Location
from cloudjobs.lake.reader import LakeReader, open_reader
from cloudjobs.lake.schema import SPECS
from cloudjobs.query.crops import CROPS_SCHEMA, load_crops
from fieldagent.errors import FieldAgentError

_HIDDEN = "_arrow_"  # registered arrow scans; the views on top are what people query


class QueryError(FieldAgentError):
    """A query failed; the message holds DuckDB's words and what the lake offers."""


def open_dataset(lake: Location | LakeReader, name: str) -> ds.Dataset:
    """One curated dataset as a pyarrow dataset (partition columns are strings).

    An empty dataset of a known name has the fixed columns; an unknown name with no files
    is a ``QueryError``; a part file that cannot be read is a ``LakeError`` naming it.
    """
    reader = open_reader(lake)
    found = reader.open(name)
    if found is not None:
        return found
    if name in SPECS:
        return ds.dataset(SPECS[name].base_schema().empty_table())
    raise QueryError(f"{reader.location()}: no dataset {name!r} under curated/")


class Lake:
    """An open DuckDB connection with the lake's datasets as views.

    ``crops`` is an optional YAML mapping of zones to crops (``query.crops``), exposed as
    the ``zone_crops`` view (empty without it).
    """

    def __init__(self, store: Location | LakeReader, *, crops: Path | None = None) -> None:
        self.store = store
        reader = open_reader(store)
        names = reader.datasets()  # one listing of curated/, then every dataset from it
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")  # hour(), date parts: UTC like the lake
        for name in sorted(set(names) | set(SPECS)):
            self._register(name, open_dataset(reader, name))
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
