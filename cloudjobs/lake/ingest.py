"""``cloudjobs ingest``: raw objects the sites uploaded -> curated Parquet, exactly once.

Per site (one task per site on a ``concurrent.futures.Executor``):

1. read the site's commit log (``txlog``) and finish or clean up what crashed runs left;
2. list the site's raw objects (``--since`` prunes by date folder) and drop the keys the
   log says are consumed: re-running ingests nothing twice;
3. in chunks of ``chunk_objects``: read and parse the objects (a malformed one is copied
   to ``rejected/<key>`` with ``<key>.reason.json`` and counted; the rest goes on), build
   one Parquet file per (dataset, date) and commit them and the consumed keys as one
   transaction;
4. compact the partitions it touched that now hold more than ``max_files`` files.

Raw objects are never modified or deleted: the raw prefix stays the immutable record of
what the sites sent (a bucket lifecycle rule may expire it), and a fixed ingest can read a
rejected object again from ``rejected/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from cloudjobs.executor import ExecutorError, add_executor_arguments, make_executor
from cloudjobs.lake import layout
from cloudjobs.lake.compact import compact_partitions
from cloudjobs.lake.parquet import table_bytes
from cloudjobs.lake.parse import BODYLESS_KINDS, Parsed, parse_object
from cloudjobs.lake.schema import to_table
from cloudjobs.lake.sites import discover_sites, list_raw
from cloudjobs.lake.txlog import (
    Rejection,
    SiteLog,
    Transaction,
    commit,
    discard,
    load_log,
    maybe_checkpoint,
    publish,
    recover,
    stage,
)
from cloudjobs.store import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StoreError,
    add_store_arguments,
    store_from_args,
)
from fieldagent.errors import FieldAgentError
from fieldcontract.keys import parse_raw_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    """How one ingest run behaves (all have defaults that suit an hourly run)."""

    since: date | None = None
    """Only raw date folders on or after this day (None: all)."""
    max_files: int = 4
    """Compact a touched partition once it holds more part files than this (0: never)."""
    chunk_objects: int = 1000
    """Raw objects per transaction: bounds memory and the work a crash can lose."""
    fetch_threads: int = 8
    """Concurrent object reads per site (S3 latency, not CPU, is the limit)."""
    stale_after: timedelta = timedelta(hours=6)
    """Uncommitted staging older than this is a crashed run's and is discarded."""
    checkpoint_every: int = 50
    """Fold the commit log into a checkpoint after this many commits."""


@dataclass(frozen=True)
class SiteReport:
    """What one site's ingest did (``error`` set if it stopped early)."""

    site: str
    listed: int = 0
    already: int = 0
    ingested: int = 0
    rejected: tuple[Rejection, ...] = ()
    vanished: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    parts: int = 0
    compacted: int = 0
    transactions: int = 0
    rolled_forward: int = 0
    discarded: int = 0
    unknown_kinds: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class _Chunk:
    """One transaction's worth of parsed objects."""

    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list))
    samples: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    ingested: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    vanished: int = 0

    def add(self, key: str, parsed: Parsed) -> None:
        self.ingested.append(key)
        self.samples.update(parsed.samples)
        for row in parsed.rows:
            self.rows[(row.dataset, row.date)].append(row.values)


def ingest_site(
    store: ObjectStore, site: str, options: IngestOptions, now: datetime
) -> SiteReport:
    """Ingest one site (module docstring). Errors become ``SiteReport.error``: one site's
    trouble must not stop the others."""
    try:
        return _ingest_site(store, site, options, now)
    except (FieldAgentError, OSError) as exc:
        log.error("site %s: ingest stopped: %s", site, exc)
        return SiteReport(site, error=str(exc))


def _ingest_site(store: ObjectStore, site: str, options: IngestOptions, now: datetime
                 ) -> SiteReport:
    state = load_log(store, site)
    recovery = recover(store, state, now, options.stale_after)
    listing = list_raw(store, site, options.since)
    pending = [o for o in listing.objects if o.key not in state.consumed]
    done: list[Transaction] = []
    vanished = 0
    for batch in _batched(pending, options.chunk_objects):
        chunk = _read_chunk(store, batch, options.fetch_threads)
        vanished += chunk.vanished
        if chunk.ingested or chunk.rejected:
            done.append(_commit_chunk(store, state, chunk, now))
    touched = {layout.parse_part_key(k) for t in done for k in t.adds}
    prefixes = sorted({layout.partition_prefix(p.dataset, site, p.date) for p in touched if p})
    compacted = (compact_partitions(store, state, prefixes, options.max_files, now).partitions
                 if options.max_files > 0 and prefixes else 0)
    maybe_checkpoint(store, state, options.checkpoint_every)
    rows: dict[str, int] = defaultdict(int)
    for t in done:
        for dataset, n in t.rows.items():
            rows[dataset] += n
    return SiteReport(
        site, listed=len(listing.objects), already=len(listing.objects) - len(pending),
        ingested=sum(len(t.ingested) for t in done),
        rejected=tuple(r for t in done for r in t.rejected), vanished=vanished,
        rows=dict(sorted(rows.items())), parts=sum(len(t.adds) for t in done),
        compacted=compacted, transactions=len(done),
        rolled_forward=len(recovery.rolled_forward), discarded=len(recovery.discarded),
        unknown_kinds=listing.unknown_kinds,
    )


def _batched(items: Sequence[ObjectInfo], n: int) -> Iterator[list[ObjectInfo]]:
    it = iter(items)
    while batch := list(islice(it, max(1, n))):
        yield batch


def _read_chunk(store: ObjectStore, batch: list[ObjectInfo], threads: int) -> _Chunk:
    """Fetch (in threads: S3 latency) and parse; malformed objects become rejections."""
    chunk = _Chunk()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for info, outcome in zip(batch, pool.map(lambda o: _read_one(store, o), batch),
                                 strict=True):
            if isinstance(outcome, Parsed):
                chunk.add(info.key, outcome)
            elif outcome is None:
                chunk.vanished += 1
            else:
                chunk.rejected.append(Rejection(info.key, outcome))
    _fill_samples(chunk)
    return chunk


def _read_one(store: ObjectStore, info: ObjectInfo) -> Parsed | str | None:
    """Parsed rows, the reason it is malformed, or None if it vanished since the listing."""
    try:
        raw = parse_raw_key(info.key)
        body = None if raw.kind in BODYLESS_KINDS else store.get(info.key)
        return parse_object(raw, body, info.size)
    except ObjectNotFound:
        log.warning("%s vanished between listing and reading (expired?); skipped", info.key)
        return None
    except ValueError as exc:  # Malformed, or a key outside the raw key scheme
        return str(exc)


def _fill_samples(chunk: _Chunk) -> None:
    """Why an image was kept comes from its image record's ``sample`` field; when that
    record arrived in the same run, the ``images`` row gets it (else: join ``quality``)."""
    for (dataset, _), rows in chunk.rows.items():
        if dataset == "images":
            for row in rows:
                if row["kind"] == "image" and row["key"] in chunk.samples:
                    row["reason"], row["mode"] = chunk.samples[row["key"]]


def _commit_chunk(store: ObjectStore, state: SiteLog, chunk: _Chunk, now: datetime
                  ) -> Transaction:
    txn = layout.new_txn(now)
    files = {
        layout.part_key(dataset, state.site, day, txn): table_bytes(to_table(dataset, rows))
        for (dataset, day), rows in sorted(chunk.rows.items())
    }
    counts: dict[str, int] = defaultdict(int)
    for (dataset, _), rows in chunk.rows.items():
        counts[dataset] += len(rows)
    t = Transaction(txn, "ingest", state.site, tuple(chunk.ingested), tuple(chunk.rejected),
                    adds=tuple(files), rows=dict(sorted(counts.items())))
    for rejection in chunk.rejected:
        set_aside(store, rejection, txn, now)
    stage(store, t, files)
    try:
        commit(store, state, t)
    except FieldAgentError:
        discard(store, state.site, txn)
        raise
    publish(store, t)
    return t


def set_aside(store: ObjectStore, rejection: Rejection, txn: str, now: datetime) -> None:
    """Copy a malformed raw object to ``rejected/<key>`` with ``<key>.reason.json``."""
    log.warning("%s rejected: %s", rejection.key, rejection.reason)
    store.copy(rejection.key, layout.rejected_key(rejection.key))
    reason = {"key": rejection.key, "reason": rejection.reason, "txn": txn,
              "at": now.isoformat()}
    store.put(layout.reason_key(rejection.key), json.dumps(reason, indent=1).encode())


def run_ingest(
    store: ObjectStore,
    *,
    sites: Sequence[str] | None = None,
    options: IngestOptions | None = None,
    executor: Executor | None = None,
    now: datetime,
) -> list[SiteReport]:
    """Ingest every site (or ``sites``), one ``ingest_site`` task per site on ``executor``
    (None: here, one after the other). ``now`` is the run's time (staleness, txn ids)."""
    opts = options or IngestOptions()
    names = list(sites) if sites else discover_sites(store)
    args = ([store] * len(names), names, [opts] * len(names), [now] * len(names))
    if executor is None:
        return list(map(ingest_site, *args))
    return list(executor.map(ingest_site, *args))


def format_report(reports: Sequence[SiteReport]) -> str:
    """One paragraph per site, for people."""
    lines = []
    for r in reports:
        if r.error:
            lines.append(f"{r.site}: FAILED: {r.error}")
            continue
        rows = ", ".join(f"{d} {n}" for d, n in r.rows.items()) or "no rows"
        lines.append(f"{r.site}: {r.ingested} objects ingested ({rows}), {len(r.rejected)} "
                     f"rejected, {r.already} already ingested; {r.parts} part files in "
                     f"{r.transactions} transactions, {r.compacted} partitions compacted")
        lines += [f"  rejected {x.key}: {x.reason}" for x in r.rejected]
        if r.rolled_forward or r.discarded:
            lines.append(f"  recovered: {r.rolled_forward} committed transactions finished, "
                         f"{r.discarded} stale uncommitted ones discarded")
        if r.vanished:
            lines.append(f"  {r.vanished} objects vanished between listing and reading")
        if r.unknown_kinds:
            lines.append(f"  left alone: raw kinds {', '.join(r.unknown_kinds)} (not known "
                         "to this ingest)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``cloudjobs ingest``: exit 0 when every site went through (rejections included),
    1 when a site failed or the store/cluster could not be reached."""
    parser = argparse.ArgumentParser(
        prog="cloudjobs ingest",
        description="Turn the raw objects the sites uploaded into curated Parquet datasets, "
                    "exactly once; malformed objects go to rejected/ with a reason.",
    )
    add_store_arguments(parser)
    parser.add_argument("--site", action="append", help="only this site (repeatable)")
    parser.add_argument("--since", type=_day, default=None,
                        help="only raw date folders on or after this day (YYYY-MM-DD)")
    parser.add_argument("--max-files", type=int, default=IngestOptions.max_files,
                        help="compact touched partitions above this many files (0: never)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    add_executor_arguments(parser)
    args = parser.parse_args(argv)
    options = IngestOptions(since=args.since, max_files=max(0, args.max_files))
    try:
        store = store_from_args(args)
        with make_executor(args.scheduler, args.workers) as executor:
            reports = run_ingest(store, sites=args.site, options=options, executor=executor,
                                 now=datetime.now(UTC))
    except (StoreError, ExecutorError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([asdict(r) for r in reports], indent=1))
    else:
        print(format_report(reports) or "no sites under raw/")
    return 1 if any(r.error for r in reports) else 0


def _day(text: str) -> date:
    try:
        return layout.parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
