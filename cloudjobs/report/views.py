"""The curated datasets as DuckDB views for the report, read through the lake's reader.

``cloudjobs.lake.reader`` lists each dataset once and prunes by site and date *before* any
Parquet footer is read, so a report over one site and two weeks touches only those files,
on S3 too; columns missing from older files read as NULL. The report asks it to skip a
file that cannot be read and names it on the page, so one bad upload never blocks the
report. Anything else the lake refuses (not there, parts that disagree on a type, data
that fails mid-query) is a ``LakeError`` saying what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from cloudjobs.lake.errors import LakeError
from cloudjobs.lake.location import Location
from cloudjobs.lake.reader import LakeReader, PartFile, open_reader

LakeLocation = Location | LakeReader
"""A folder, a ``file://`` or ``s3://`` URL, a pyarrow filesystem and root, a store or a
reader."""


@dataclass
class CuratedLake:
    """The curated datasets of one lake (of one site, if given), registered on demand as
    DuckDB views."""

    reader: LakeReader
    site: str | None = None
    con: duckdb.DuckDBPyConnection = field(default_factory=duckdb.connect)
    columns: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def skipped(self) -> list[str]:
        """Files that could not be read and were left out."""
        return self.reader.skipped

    def location(self) -> str:
        """Where the lake is, for the report's footer."""
        return self.reader.location()

    def files(self, name: str) -> list[PartFile]:
        """Every Parquet file of dataset ``name`` (of the chosen site), listed once."""
        return self.reader.parts(name, self.site)

    def days(self, names: Sequence[str]) -> tuple[date, date] | None:
        """The first and last date partitions among these datasets, None when all are empty."""
        days = [f.day for n in names for f in self.files(n) if f.day is not None]
        return (min(days), max(days)) if days else None

    def register(self, name: str, since: date | None = None, until: date | None = None) -> bool:
        """Register ``name`` as a view over its files dated since..until; False when none.

        Files of a dataset partitioned by site only are all taken: their rows say which
        window they cover, and the queries choose.
        """
        dataset = self.reader.open(name, site=self.site, since=since, until=until,
                                   skip_damaged=True)
        if dataset is None:
            self.columns.pop(name, None)
            return False
        self.con.register(name, dataset)
        self.columns[name] = frozenset(dataset.schema.names)
        return True

    def has(self, name: str, *columns: str) -> bool:
        """True when ``name`` is registered and has every one of ``columns``."""
        return name in self.columns and set(columns) <= self.columns[name]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query; rows as dicts (timestamps as aware datetimes, through Arrow)."""
        try:
            table = self.con.sql(sql, params=list(params)).to_arrow_table()
        except (duckdb.Error, pa.ArrowException) as exc:
            raise LakeError(
                f"reading the curated data at {self.location()} failed: {exc}; a damaged "
                "Parquet file can be set aside and re-ingested (cloudjobs ingest)"
            ) from exc
        return table.to_pylist()


def open_lake(location: LakeLocation, *, site: str | None = None) -> CuratedLake:
    """The curated datasets at ``location``, optionally of one site only."""
    return CuratedLake(open_reader(location), site)
