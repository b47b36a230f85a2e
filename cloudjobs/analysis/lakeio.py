"""Reading and writing the curated lake (Hive-partitioned Parquet) one site at a time.

The analysis and the fleet view never list a whole dataset at once: each site's work reads
only ``curated/<dataset>/site=<site>/date=<d>/`` folders whose date is in range, so a worker
touches its own site's files and nothing else. Files written at different times may carry
different columns (a signal added in a later agent release), so the schema is unified over
the files actually read; a column missing everywhere comes back as nulls of the asked type.

The lake is a pyarrow filesystem plus a root path: a local folder, ``file://`` URL, any URI
``pyarrow.fs.FileSystem.from_uri`` understands (``s3://bucket/prefix?endpoint_override=...``),
or a lake store (``cloudjobs.store``: anything with ``arrow_fs()``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cloudjobs.analysis.errors import LakeError

CURATED = "curated"
_DATE_PARTITION = pa.schema([("date", pa.string())])


class ArrowStore(Protocol):
    """A lake store (``cloudjobs.store``) that can hand out a pyarrow filesystem on its objects."""

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]: ...


@dataclass(frozen=True)
class Lake:
    """Where the lake is: a pyarrow filesystem and the root path inside it (picklable)."""

    filesystem: pafs.FileSystem
    root: str

    def dataset_dir(self, dataset: str) -> str:
        """Folder of one curated dataset."""
        return _join(self.root, CURATED, dataset)

    def site_dir(self, dataset: str, site: str) -> str:
        """Folder of one site's partition of a curated dataset."""
        return _join(self.dataset_dir(dataset), f"site={site}")


LakeLike = str | os.PathLike[str] | ArrowStore | Lake
"""What the jobs accept as a lake: a folder, a URL, a lake store or a resolved ``Lake``."""


def resolve_lake(lake: LakeLike) -> Lake:
    """Turn a path, URL or store object into a ``Lake``; say what is accepted otherwise."""
    if isinstance(lake, Lake):
        return lake
    if not isinstance(lake, str | os.PathLike):
        filesystem, root = lake.arrow_fs()
        if isinstance(filesystem, pafs.LocalFileSystem):
            return _local(os.path.abspath(root))
        return Lake(filesystem, root.rstrip("/"))
    text = os.fspath(lake)
    if "://" not in text:
        return _local(os.path.abspath(text))
    try:
        fs, root = pafs.FileSystem.from_uri(text)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LakeError(
            f"cannot open the lake at {text!r} ({exc}); give a local folder, a file:// URL "
            "or an s3://bucket/prefix URL pyarrow understands"
        ) from exc
    return _local(root) if isinstance(fs, pafs.LocalFileSystem) else Lake(fs, root.rstrip("/"))


def _local(root: str) -> Lake:
    if not os.path.isdir(root):
        raise LakeError(f"the lake folder {root} does not exist: check --lake (a folder, "
                        "file:///path or s3://bucket/prefix) and that the disk is mounted")
    return Lake(pafs.LocalFileSystem(), root)


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts))


def list_sites(lake: Lake, datasets: Iterable[str]) -> list[str]:
    """Every site that has a partition in any of ``datasets``, sorted."""
    sites: set[str] = set()
    for name in datasets:
        for info in _children(lake, lake.dataset_dir(name)):
            base = info.base_name
            if info.type == pafs.FileType.Directory and base.startswith("site="):
                sites.add(base.removeprefix("site="))
    return sorted(sites)


def list_dates(lake: Lake, dataset: str, site: str) -> list[str]:
    """The date partitions of one site in a dataset, ascending (ISO strings sort as dates)."""
    dates = [
        info.base_name.removeprefix("date=")
        for info in _children(lake, lake.site_dir(dataset, site))
        if info.type == pafs.FileType.Directory and info.base_name.startswith("date=")
    ]
    return sorted(dates)


def _children(lake: Lake, path: str) -> list[pafs.FileInfo]:
    selector = pafs.FileSelector(path, allow_not_found=True)
    return list(lake.filesystem.get_file_info(selector))


def read_site(
    lake: Lake,
    dataset: str,
    site: str,
    columns: Mapping[str, pa.DataType],
    first: date | None = None,
    last: date | None = None,
) -> pa.Table:
    """Rows of one site with dates in ``[first, last]``, exactly ``columns`` (typed), plus date.

    Columns absent from every file read come back as nulls, so callers never branch on
    which agent release wrote the data.
    """
    dates = [
        d
        for d in list_dates(lake, dataset, site)
        if (first is None or d >= first.isoformat()) and (last is None or d <= last.isoformat())
    ]
    base = lake.site_dir(dataset, site)
    files = sorted(_files_under(lake, [_join(base, f"date={d}") for d in dates]))
    wanted = pa.schema([*[(n, t) for n, t in columns.items()], ("date", pa.string())])
    if not files:
        return wanted.empty_table()
    partitioning = ds.partitioning(_DATE_PARTITION, flavor="hive")
    found = ds.dataset(files, filesystem=lake.filesystem, format="parquet",
                       partitioning=partitioning, partition_base_dir=base)
    schema = pa.unify_schemas(
        [f.physical_schema for f in found.get_fragments()] + [_DATE_PARTITION],
        promote_options="permissive",
    )
    found = ds.dataset(files, filesystem=lake.filesystem, format="parquet",
                       partitioning=partitioning, partition_base_dir=base, schema=schema)
    present = [n for n in wanted.names if n in schema.names]
    table = found.to_table(columns=present)
    arrays = [
        table.column(f.name).cast(f.type) if f.name in present else pa.nulls(len(table), f.type)
        for f in wanted
    ]
    return pa.Table.from_arrays(arrays, schema=wanted)


def _files_under(lake: Lake, folders: list[str]) -> list[str]:
    files: list[str] = []
    for folder in folders:
        selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
        for info in lake.filesystem.get_file_info(selector):
            name = info.base_name
            if info.type == pafs.FileType.File and name.endswith(".parquet") and not (
                name.startswith((".", "_"))
            ):
                files.append(info.path)
    return files


def replace_site_file(lake: Lake, dataset: str, site: str, name: str, table: pa.Table) -> str:
    """Write ``table`` as ``curated/<dataset>/site=<site>/<name>``, replacing any earlier copy.

    The same name for the same analysis window makes a re-run replace, not append. Locally
    the file is written under a hidden name and renamed, so a reader never sees half a file;
    on S3 an object appears whole when its upload completes. An empty table removes the file.
    """
    folder = lake.site_dir(dataset, site)
    path = _join(folder, name)
    if table.num_rows == 0:
        if lake.filesystem.get_file_info(path).type == pafs.FileType.File:
            lake.filesystem.delete_file(path)
        return path
    if isinstance(lake.filesystem, pafs.LocalFileSystem):  # object stores have no folders
        lake.filesystem.create_dir(folder, recursive=True)
        temp = _join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        pq.write_table(table, temp, filesystem=lake.filesystem)
        lake.filesystem.move(temp, path)
    else:
        pq.write_table(table, path, filesystem=lake.filesystem)
    return path


def naive_utc(table: pa.Table, column: str) -> pa.Table:
    """The timestamp column as naive UTC wall time, so SQL hour() never applies a time zone."""
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pc.cast(table.column(column), pa.timestamp("us")))
