"""The one reader of the curated lake: which tables and partitions exist, and their rows.

The analysis, the fleet view, ``cloudjobs query`` and the report all read
``curated/<dataset>/site=<s>/date=<d>/part-*.parquet`` (and the analysis' own datasets,
partitioned by ``site`` only) through this module, so they agree on what a part file is,
which columns a dataset has and what a damaged file does.

* **Listing.** A part file is a ``.parquet`` file below ``curated/<dataset>/``; folders
  ``name=value`` are its partitions (strings; a ``date`` must be ``YYYY-MM-DD``); names
  starting with ``.`` or ``_`` are someone's temporary files and are never read.
* **Snapshot.** A reader lists each dataset (or one site of it) once and reads that listing
  from then on: one run sees one set of files however long it takes. Open a new reader to
  see newer data. What is listed is what is *published*: files still in ``staging/`` are
  never read. The commit log (``txlog``) is not replayed: its checkpoints keep the consumed
  raw keys, not the files, and lakes written by hand (tests, benchmarks, the analysis'
  write-back) have no log (docs/lake.md, "Reading the lake").
* **Pruning.** Files are chosen by site and date from their path *before* any footer is
  read, so reading one site's week touches only those files, on S3 too.
* **Schemas.** Parts written by different agent releases may carry different open-ended
  columns: the footers of the chosen files are unified, so a column a newer part added
  reads as null in older ones. Parts that disagree on a column's type are a ``LakeError``.
* **Damage.** A file whose footer cannot be read is a ``LakeError`` naming it, unless the
  caller asks to skip such files (``skip_damaged``): then it is logged and remembered in
  ``skipped`` (the report names them instead of failing).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cloudjobs.lake.errors import LakeError
from cloudjobs.lake.location import Location, describe, resolve_location

log = logging.getLogger(__name__)

CURATED = "curated"
_SEGMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^/]+)")


@dataclass(frozen=True)
class PartFile:
    """One Parquet file of a curated dataset, with the partition values of its path."""

    path: str
    dataset: str
    partitions: tuple[tuple[str, str], ...]

    @property
    def site(self) -> str | None:
        return dict(self.partitions).get("site")

    @property
    def day(self) -> date | None:
        """The ``date`` partition; None in datasets partitioned by site only."""
        text = dict(self.partitions).get("date")
        return None if text is None else date.fromisoformat(text)

    def sort_key(self) -> tuple[str, date, str]:
        return (self.site or "", self.day or date.min, self.path)


@dataclass(frozen=True)
class LakeReader:
    """The curated datasets of one lake (module docstring); picklable, so one reader can
    travel to process or Dask workers (each then lists what it reads itself)."""

    filesystem: pafs.FileSystem
    root: str
    skipped: list[str] = field(default_factory=list, compare=False, repr=False)
    _listed: dict[tuple[str, str | None], list[PartFile]] = field(
        default_factory=dict, compare=False, repr=False)

    def location(self) -> str:
        """Where the lake is, for people (a folder or ``s3://bucket/prefix``)."""
        return describe(self.filesystem, self.root)

    def dataset_dir(self, dataset: str) -> str:
        """Folder of one curated dataset (``""``: the ``curated/`` folder itself)."""
        return _join(self.root, CURATED, dataset)

    def site_dir(self, dataset: str, site: str) -> str:
        """Folder of one site's partitions of a curated dataset."""
        return _join(self.dataset_dir(dataset), f"site={site}")

    def datasets(self) -> list[str]:
        """Every dataset holding a part file, from one listing of ``curated/`` (which also
        serves every later ``parts(name)``)."""
        found: dict[str, list[PartFile]] = defaultdict(list)
        for part in self._list(_join(self.root, CURATED)):
            found[part.dataset].append(part)
        for name, parts in found.items():
            self._listed[(name, None)] = sorted(parts, key=PartFile.sort_key)
        return sorted(found)

    def sites(self, datasets: Iterable[str]) -> list[str]:
        """Every site with a ``site=`` folder in any of ``datasets``, sorted (folders only:
        cheap on a lake of many sites)."""
        sites: set[str] = set()
        for name in datasets:
            for info in self._children(self.dataset_dir(name)):
                if info.type == pafs.FileType.Directory and info.base_name.startswith("site="):
                    sites.add(info.base_name.removeprefix("site="))
        return sorted(sites)

    def parts(self, dataset: str, site: str | None = None) -> list[PartFile]:
        """The part files of ``dataset`` (of one ``site`` if given), listed once per reader,
        in site, date, path order."""
        if (dataset, site) not in self._listed:
            whole = self._listed.get((dataset, None))
            if whole is not None:
                found = [p for p in whole if p.site == site]
            else:
                where = self.dataset_dir(dataset) if site is None else self.site_dir(dataset, site)
                found = [p for p in self._list(where) if site is None or p.site == site]
            self._listed[(dataset, site)] = sorted(found, key=PartFile.sort_key)
        return self._listed[(dataset, site)]

    def dates(self, dataset: str, site: str) -> list[str]:
        """The dates (ISO strings) of one site's part files in ``dataset``, ascending."""
        return sorted({d.isoformat() for p in self.parts(dataset, site) if (d := p.day)})

    def open(
        self,
        dataset: str,
        *,
        site: str | None = None,
        since: date | None = None,
        until: date | None = None,
        skip_damaged: bool = False,
    ) -> ds.Dataset | None:
        """``dataset`` as a pyarrow dataset over the files of ``site`` dated ``since..until``
        (both included; files without a date are always taken: their rows say which window
        they cover), partition columns as strings after the files' columns. None when no
        (readable) file is chosen."""
        lo, hi = since or date.min, until or date.max
        chosen = [p for p in self.parts(dataset, site) if p.day is None or lo <= p.day <= hi]
        schemas, readable = self._footers(chosen, skip_damaged)
        if not readable:
            return None
        names = dict.fromkeys(name for p in readable for name, _ in p.partitions)
        partition_schema = pa.schema([(n, pa.string()) for n in names])
        partitioning = ds.partitioning(partition_schema, flavor="hive") if names else None
        schema = _unify(dataset, [*schemas, partition_schema])
        return ds.dataset([p.path for p in readable], schema=schema, format="parquet",
                          filesystem=self.filesystem, partitioning=partitioning,
                          partition_base_dir=self.dataset_dir(dataset))

    def read(
        self,
        dataset: str,
        site: str,
        columns: Mapping[str, pa.DataType],
        since: date | None = None,
        until: date | None = None,
    ) -> pa.Table:
        """Rows of one site dated ``since..until``: exactly ``columns`` (cast to their
        types), then ``date``. A column absent from every file read comes back as nulls, so
        callers never branch on which agent release wrote the data."""
        wanted = pa.schema([*columns.items(), ("date", pa.string())])
        found = self.open(dataset, site=site, since=since, until=until)
        if found is None:
            return wanted.empty_table()
        present = [n for n in wanted.names if n in found.schema.names]
        table = found.to_table(columns=present)
        arrays = [
            table.column(f.name).cast(f.type) if f.name in present
            else pa.nulls(len(table), f.type)
            for f in wanted
        ]  # fmt: skip
        return pa.Table.from_arrays(arrays, schema=wanted)

    def _footers(
        self, parts: list[PartFile], skip_damaged: bool
    ) -> tuple[list[pa.Schema], list[PartFile]]:
        """The schemas of the parts whose footer reads, and those parts."""
        schemas, readable = [], []
        for part in parts:
            try:
                schemas.append(pq.read_schema(part.path, filesystem=self.filesystem))
            except (pa.ArrowInvalid, OSError) as exc:
                if not skip_damaged:
                    raise LakeError(
                        f"part file {describe(self.filesystem, part.path)} of curated/"
                        f"{part.dataset} cannot be read ({exc}): move it out of curated/ and "
                        "ingest its raw objects again (cloudjobs ingest), or restore it"
                    ) from exc
                log.warning("skipping unreadable %s: %s", part.path, exc)
                self.skipped.append(part.path)
                continue
            readable.append(part)
        return [s.remove_metadata() for s in schemas], readable

    def _list(self, folder: str) -> list[PartFile]:
        """Every part file below ``folder`` (one recursive listing)."""
        selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise LakeError(
                f"cannot list {folder}: {exc}; check that the lake is reachable"
            ) from exc
        curated = _join(self.root, CURATED)
        found = (_part(curated, i.path) for i in infos if i.type == pafs.FileType.File)
        return [p for p in found if p is not None]

    def _children(self, folder: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(folder, allow_not_found=True)
        try:
            return list(self.filesystem.get_file_info(selector))
        except OSError as exc:
            raise LakeError(
                f"cannot list {folder}: {exc}; check that the lake is reachable"
            ) from exc


def open_reader(location: Location | LakeReader) -> LakeReader:
    """A reader of the lake at ``location`` (``cloudjobs.lake.location``); a reader is
    returned as it is, listings and all."""
    if isinstance(location, LakeReader):
        return location
    return LakeReader(*resolve_location(location))


def _part(curated: str, path: str) -> PartFile | None:
    """``curated/<dataset>/[name=value/...]<file>.parquet``; None for anything else."""
    if not path.endswith(".parquet") or not path.startswith(f"{curated}/"):
        return None
    dataset, *folders = path[len(curated):].strip("/").split("/")
    if not folders or any(p.startswith((".", "_")) for p in (dataset, *folders)):
        return None
    found = (_SEGMENT.fullmatch(f) for f in folders[:-1])
    partitions = tuple((m["name"], unquote(m["value"])) for m in found if m)
    part = PartFile(path, dataset, partitions)
    try:
        part.day  # noqa: B018 - a date folder that is not a date is not one of ours
    except ValueError:
        return None
    return part


def _unify(dataset: str, schemas: list[pa.Schema]) -> pa.Schema:
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise LakeError(
            f"the files of curated/{dataset} disagree on a column's type ({exc}): "
            "re-ingest or compact that dataset"
        ) from exc


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts))
