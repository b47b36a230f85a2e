"""The curated datasets as DuckDB views, read through pyarrow datasets (local folder or S3).

The lake is ``<root>/curated/<dataset>/site=<site>/date=<YYYY-MM-DD>/part-*.parquet``
(see the lake contract). Files are listed once per dataset and pruned by site and date
*before* any Parquet footer is read, so a report over one site and two weeks touches only
those files, on S3 too. Files written at different times may carry different signal or
metric columns: their schemas are unified, so a column missing from an older file reads
as NULL instead of disappearing. A file that cannot be read is skipped and named, so one
bad upload never blocks the report.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cloudjobs.report.errors import ReportError

log = logging.getLogger(__name__)


class ArrowStore(Protocol):
    """A lake store (``cloudjobs.store``): hands out a pyarrow filesystem and its root."""

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]: ...


LakeLocation = str | os.PathLike[str] | tuple[pafs.FileSystem, str] | ArrowStore
"""A folder, a ``file://`` or ``s3://`` URL, a pyarrow filesystem and root, or a store."""

PARTITIONING = ds.partitioning(
    pa.schema([("site", pa.string()), ("date", pa.string())]), flavor="hive"
)
# The analysis datasets are partitioned by site only (one file per analysis window).
SITE_PARTITIONING = ds.partitioning(pa.schema([("site", pa.string())]), flavor="hive")


@dataclass(frozen=True)
class PartFile:
    """One Parquet file of a dataset, with the partition values read from its path."""

    path: str
    site: str
    day: date | None  # None in datasets partitioned by site only


def resolve_location(location: LakeLocation) -> tuple[pafs.FileSystem, str]:
    """(filesystem, root) for a path, a ``file://``/``s3://`` URL, a pair or a store.

    S3 URLs go through :meth:`pyarrow.fs.FileSystem.from_uri`, so credentials come from the
    usual AWS environment variables and an endpoint from ``?endpoint_override=host:port``.
    """
    if isinstance(location, tuple):
        fs, root = location
    elif not isinstance(location, str | os.PathLike):
        fs, root = location.arrow_fs()
    elif "://" in (text := os.fspath(location)):
        try:
            fs, root = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ReportError(
                f"cannot open the lake at {text}: {exc}; check the URL and the credentials"
            ) from exc
    else:
        fs, root = pafs.LocalFileSystem(), Path(text).expanduser().resolve().as_posix()
    if isinstance(fs, pafs.LocalFileSystem):
        if not Path(root).is_dir():
            raise ReportError(
                f"no lake folder at {root}: give the folder that holds curated/ "
                "(run `cloudjobs ingest` first, or `fieldagent demo` for the demo lake)"
            )
    else:
        _check_bucket(fs, root)
    return fs, root.rstrip("/")


def _check_bucket(fs: pafs.FileSystem, root: str) -> None:
    """A missing bucket is a wrong URL or credentials, not an empty lake: say so."""
    bucket = root.strip("/").split("/", 1)[0]
    try:
        found = fs.get_file_info(bucket).type != pafs.FileType.NotFound
    except OSError as exc:
        raise ReportError(
            f"cannot reach bucket {bucket!r} of the lake: {exc}; check the endpoint and "
            "the credentials"
        ) from exc
    if not found:
        raise ReportError(
            f"bucket {bucket!r} of the lake does not exist (or these credentials cannot "
            "see it): check --store"
        )


def _parse_part(base: str, path: str) -> PartFile | None:
    """Partition values from ``<base>/site=S/date=D/...parquet``; None for anything else."""
    if not path.endswith(".parquet"):
        return None
    parts = path[len(base) :].strip("/").split("/")
    values = dict(unquote(p).split("=", 1) for p in parts[:-1] if "=" in p)
    if any(p.startswith((".", "_")) for p in parts) or "site" not in values:
        return None
    try:
        day = date.fromisoformat(values["date"]) if "date" in values else None
    except ValueError:
        return None
    return PartFile(path, values["site"], day)


@dataclass
class CuratedLake:
    """The curated datasets of one lake, registered on demand as DuckDB views."""

    fs: pafs.FileSystem
    root: str
    site: str | None = None
    con: duckdb.DuckDBPyConnection = field(default_factory=duckdb.connect)
    columns: dict[str, frozenset[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    _listing: dict[str, list[PartFile]] = field(default_factory=dict)

    def location(self) -> str:
        """Where the lake is, for the report's footer."""
        kind = getattr(self.fs, "type_name", "")
        return self.root if kind == "local" else f"{kind}://{self.root}"

    def files(self, name: str) -> list[PartFile]:
        """Every Parquet file of dataset ``name`` (of the chosen site), listed once."""
        if name not in self._listing:
            base = f"{self.root}/curated/{name}"
            where = f"{base}/site={self.site}" if self.site else base
            selector = pafs.FileSelector(where, recursive=True, allow_not_found=True)
            try:
                infos = self.fs.get_file_info(selector)
            except OSError as exc:
                raise ReportError(
                    f"cannot list {where}: {exc}; check that the lake is reachable"
                ) from exc
            parsed = (_parse_part(base, i.path) for i in infos if i.type == pafs.FileType.File)
            self._listing[name] = sorted(
                (p for p in parsed if p and (self.site is None or p.site == self.site)),
                key=lambda p: (p.site, p.day or date.min, p.path),
            )
        return self._listing[name]

    def days(self, names: Sequence[str]) -> tuple[date, date] | None:
        """The first and last date partitions among these datasets, None when all are empty."""
        days = [f.day for n in names for f in self.files(n) if f.day is not None]
        return (min(days), max(days)) if days else None

    def register(self, name: str, since: date | None = None, until: date | None = None) -> bool:
        """Register ``name`` as a view over its files dated since..until; False when none.

        Files of a dataset partitioned by site only are all taken: their rows say which
        window they cover, and the queries choose.
        """
        lo, hi = since or date.min, until or date.max
        chosen = [f for f in self.files(name) if f.day is None or lo <= f.day <= hi]
        dataset = self._dataset(name, chosen)
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
            raise ReportError(
                f"reading the curated data at {self.location()} failed: {exc}; a damaged "
                "Parquet file can be set aside and re-ingested (cloudjobs ingest)"
            ) from exc
        return table.to_pylist()

    def _dataset(self, name: str, files: list[PartFile]) -> ds.Dataset | None:
        base = f"{self.root}/curated/{name}"
        dated = all(f.day is not None for f in files)
        partitioning = PARTITIONING if dated else SITE_PARTITIONING
        schemas, readable = [], []
        for path in (f.path for f in files if (f.day is not None) == dated):
            try:
                schemas.append(pq.read_schema(path, filesystem=self.fs))
            except (pa.ArrowInvalid, OSError) as exc:
                log.warning("skipping unreadable %s: %s", path, exc)
                self.skipped.append(path)
                continue
            readable.append(path)
        if not readable:
            return None
        try:
            schema = pa.unify_schemas(
                [*(s.remove_metadata() for s in schemas), partitioning.schema],
                promote_options="permissive",
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ReportError(
                f"the files of curated/{name} disagree on a column's type ({exc}): "
                "re-ingest or compact that dataset"
            ) from exc
        return ds.dataset(
            readable, schema=schema, filesystem=self.fs, format="parquet",
            partitioning=partitioning, partition_base_dir=base,
        )  # fmt: skip


def open_lake(location: LakeLocation, *, site: str | None = None) -> CuratedLake:
    """The curated datasets at ``location``, optionally of one site only."""
    fs, root = resolve_location(location)
    return CuratedLake(fs, root, site)
