"""Compaction: a partition holding more than ``max_files`` part files becomes one file.

Each ingest run writes one part per partition it touches, so a partition that is ingested
every 15 minutes collects ~96 small files a day; engines pay per file (an open, a footer
read, on S3 a request each). Compaction merges them (schemas unified: a column missing
in an older part becomes null) as one lake transaction per site (``txlog``): the merged
file and the removal of the old ones commit together, so a crash never leaves both
visible for good. Files of transactions still in staging are never touched: a roll-forward
could otherwise copy them back after they were merged.

``cloudjobs compact`` runs it over every partition; ``cloudjobs ingest`` runs it on the
partitions it just wrote.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cloudjobs.executor import ExecutorError, add_executor_arguments, make_executor
from cloudjobs.lake import layout
from cloudjobs.lake.parquet import read_table, table_bytes
from cloudjobs.lake.schema import SPECS, unify
from cloudjobs.lake.sites import discover_sites
from cloudjobs.lake.txlog import (
    SiteLog,
    Transaction,
    commit,
    discard,
    in_progress,
    load_log,
    maybe_checkpoint,
    publish,
    recover,
    stage,
)
from cloudjobs.store import ObjectStore, StoreError, add_store_arguments, store_from_args
from fieldagent.errors import FieldAgentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompactOptions:
    """``max_files``: a partition with more part files than this is merged into one.
    ``stale_after``: uncommitted staging older than this is discarded (see ``txlog``)."""

    max_files: int = 4
    datasets: tuple[str, ...] = layout.DATASETS
    stale_after: timedelta = timedelta(hours=6)
    checkpoint_every: int = 50


@dataclass(frozen=True)
class Compaction:
    """What one compaction transaction did."""

    partitions: int = 0
    files_before: int = 0
    rows: int = 0


@dataclass(frozen=True)
class CompactReport:
    """One site's compaction run."""

    site: str
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    error: str | None = None
    rolled_forward: int = 0
    discarded: int = 0
    files_left: dict[str, int] = field(default_factory=dict)


def partition_files(
    store: ObjectStore, site: str, prefixes: Iterable[str]
) -> dict[str, list[str]]:
    """Part files by partition prefix, under each of ``prefixes`` (datasets or partitions)."""
    found: dict[str, list[str]] = defaultdict(list)
    for prefix in prefixes:
        for info in store.list(prefix):
            part = layout.parse_part_key(info.key)
            if part is not None and part.site == site:
                found[layout.partition_prefix(part.dataset, site, part.date)].append(info.key)
    return dict(found)


def compact_partitions(
    store: ObjectStore, state: SiteLog, prefixes: Iterable[str], max_files: int, now: datetime
) -> Compaction:
    """Merge every partition under ``prefixes`` holding more than ``max_files`` parts, in one
    transaction. The caller has loaded the log and recovered the site."""
    busy = set(in_progress(store, state.site))
    groups = {
        prefix: keys
        for prefix, files in partition_files(store, state.site, prefixes).items()
        if len(keys := [k for k in files if _txn(k) not in busy]) > max(max_files, 1)
    }
    if not groups:
        return Compaction()
    txn = layout.new_txn(now)
    files, rows = {}, 0
    for keys in groups.values():
        part = layout.parse_part_key(keys[0])
        assert part is not None  # partition_files only returns part keys
        table = unify([read_table(store.get(k)) for k in keys])
        table = table.sort_by([(SPECS[part.dataset].time, "ascending")])
        files[layout.part_key(part.dataset, state.site, part.date, txn)] = table_bytes(table)
        rows += table.num_rows
    removes = tuple(k for keys in groups.values() for k in keys)
    t = Transaction(txn, "compact", state.site, adds=tuple(files), removes=removes)
    stage(store, t, files)
    try:
        commit(store, state, t)
    except FieldAgentError:
        discard(store, state.site, txn)
        raise
    publish(store, t)
    log.info("site %s: compacted %d partitions (%d files -> %d)", state.site, len(groups),
             len(removes), len(groups))
    return Compaction(len(groups), len(removes), rows)


def _txn(key: str) -> str | None:
    part = layout.parse_part_key(key)
    return part.txn if part else None


def compact_site(
    store: ObjectStore, site: str, options: CompactOptions, now: datetime
) -> CompactReport:
    """Recover the site, then compact all its partitions of ``options.datasets``."""
    try:
        state = load_log(store, site)
        recovery = recover(store, state, now, options.stale_after)
        prefixes = [f"{layout.CURATED}{d}/site={site}/" for d in options.datasets]
        done = compact_partitions(store, state, prefixes, options.max_files, now)
        maybe_checkpoint(store, state, options.checkpoint_every)
        left = partition_files(store, site, prefixes)
    except (FieldAgentError, OSError) as exc:
        log.error("site %s: compaction failed: %s", site, exc)
        return CompactReport(site, error=str(exc))
    return CompactReport(
        site, done.partitions, done.files_before, done.partitions, done.rows,
        rolled_forward=len(recovery.rolled_forward), discarded=len(recovery.discarded),
        files_left={p: len(k) for p, k in sorted(left.items())},
    )


def run_compact(
    store: ObjectStore,
    *,
    sites: Sequence[str] | None = None,
    options: CompactOptions | None = None,
    executor: Executor | None = None,
    now: datetime,
) -> list[CompactReport]:
    """Compact every site (or ``sites``), one task per site on ``executor`` (a
    ``concurrent.futures.Executor``; None runs them here, one after the other)."""
    opts = options or CompactOptions()
    names = list(sites) if sites else discover_sites(store)
    args = ([store] * len(names), names, [opts] * len(names), [now] * len(names))
    if executor is None:
        return list(map(compact_site, *args))
    return list(executor.map(compact_site, *args))


def main(argv: Sequence[str] | None = None) -> int:
    """``cloudjobs compact``: merge small part files; exit 1 if a site failed."""
    parser = argparse.ArgumentParser(
        prog="cloudjobs compact",
        description="Merge each partition's part files into one when it holds more than "
                    "--max-files, and finish or clean up transactions crashed runs left.",
    )
    add_store_arguments(parser)
    parser.add_argument("--site", action="append", help="only this site (repeatable)")
    parser.add_argument("--dataset", action="append", choices=layout.DATASETS,
                        help="only this dataset (repeatable)")
    parser.add_argument("--max-files", type=int, default=CompactOptions.max_files,
                        help="merge partitions with more part files than this (default 4)")
    add_executor_arguments(parser)
    args = parser.parse_args(argv)
    options = CompactOptions(max_files=max(1, args.max_files),
                             datasets=tuple(args.dataset or layout.DATASETS))
    try:
        store = store_from_args(args)
        with make_executor(args.scheduler, args.workers) as executor:
            reports = run_compact(store, sites=args.site, options=options, executor=executor,
                                  now=datetime.now(UTC))
    except (StoreError, ExecutorError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for r in reports:
        if r.error:
            print(f"{r.site}: FAILED: {r.error}")
        else:
            print(f"{r.site}: {r.partitions} partitions compacted ({r.files_before} files -> "
                  f"{r.files_after}), {sum(r.files_left.values())} files in "
                  f"{len(r.files_left)} partitions now")
    return 1 if any(r.error for r in reports) else 0
