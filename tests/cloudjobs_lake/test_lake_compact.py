"""Compaction keeps partitions to a handful of files without losing or doubling a row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from cloudjobs.lake import layout
from cloudjobs.lake.compact import CompactOptions, compact_site, main, run_compact
from cloudjobs.lake.ingest import IngestOptions, run_ingest
from cloudjobs.lake.txlog import load_log
from cloudjobs.store import LocalStore
from tests.cloudjobs_lake.conftest import NOW
from tests.cloudjobs_lake.helpers import Crash, FaultyStore, files_per_partition, rows
from tests.cloudjobs_lake.rawlake import RawLake, make_raw_lake


def trickle(source: LocalStore, lake: LocalStore, truth: RawLake, rounds: int,
            options: IngestOptions) -> int:
    """The raw objects arrive over ``rounds`` ingest runs, as on a live system; returns
    how many partitions the runs compacted."""
    keys = sorted(k for ks in truth.keys.values() for k in ks)
    compacted = 0
    for n in range(rounds):
        for key in keys[n::rounds]:
            lake.put(key, source.get(key))
        reports = run_ingest(lake, options=options, now=NOW + timedelta(minutes=n))
        assert not any(r.error for r in reports)
        compacted += sum(r.compacted for r in reports)
    return compacted


@pytest.fixture
def source(new_local_store: Callable[[str], LocalStore]) -> tuple[LocalStore, RawLake]:
    store = new_local_store("source")
    return store, make_raw_lake(store, sites=("north", "south"))


def test_ingest_keeps_partitions_to_max_files(
    source: tuple[LocalStore, RawLake], local_store: LocalStore
) -> None:
    src, truth = source
    assert trickle(src, local_store, truth, rounds=6, options=IngestOptions(max_files=3)) > 0
    per_partition = files_per_partition(local_store)
    assert max(per_partition.values()) <= 3
    assert len(rows(local_store, "signals")) == len(truth.zone_records)
    assert len(rows(local_store, "heartbeats")) == len(truth.heartbeats)


def test_compact_merges_every_partition_into_one_file(
    source: tuple[LocalStore, RawLake], local_store: LocalStore
) -> None:
    src, truth = source
    trickle(src, local_store, truth, rounds=5, options=IngestOptions(max_files=0))
    before = {d: rows(local_store, d) for d in layout.DATASETS}
    assert max(files_per_partition(local_store).values()) > 1
    reports = run_compact(local_store, options=CompactOptions(max_files=1), now=NOW)
    assert all(r.error is None and r.partitions > 0 for r in reports)
    assert set(files_per_partition(local_store).values()) == {1}
    assert {d: rows(local_store, d) for d in layout.DATASETS} == before
    assert any(r["q_dark_channel"] is not None for r in before["quality"])  # evolved column
    again = run_compact(local_store, options=CompactOptions(max_files=1), now=NOW)
    assert [r.partitions for r in again] == [0, 0]


def test_a_crash_in_the_middle_of_a_compaction_is_finished_later(
    source: tuple[LocalStore, RawLake], local_store: LocalStore
) -> None:
    """Killed after the old files are deleted but before the merged ones are published:
    rows are missing for a moment, never doubled, and the next run restores them."""
    src, truth = source
    trickle(src, local_store, truth, rounds=3, options=IngestOptions(max_files=0))
    expected = rows(local_store, "signals")
    faulty = FaultyStore(local_store.root,
                         lambda op, key: op == "copy" and key.startswith("curated/"))
    with pytest.raises(Crash):
        compact_site(faulty, "north", CompactOptions(max_files=1), NOW)
    assert len(rows(local_store, "signals")) < len(expected)
    report = compact_site(local_store, "north", CompactOptions(max_files=1), NOW)
    assert report.rolled_forward == 1
    assert rows(local_store, "signals") == expected
    assert not list(local_store.list("staging/"))


def test_checkpoint_folds_the_log_without_changing_it(
    source: tuple[LocalStore, RawLake], local_store: LocalStore
) -> None:
    src, truth = source
    trickle(src, local_store, truth, rounds=4,
            options=IngestOptions(max_files=0, checkpoint_every=3))
    checkpoints = [o.key for o in local_store.list(layout.checkpoint_prefix("north"))]
    assert checkpoints  # 4 commits with checkpoint_every=3
    from_checkpoint = load_log(local_store, "north")
    for key in checkpoints:
        local_store.delete(key)
    from_log = load_log(local_store, "north")
    assert from_checkpoint.consumed == from_log.consumed
    assert from_checkpoint.txns == from_log.txns
    assert from_checkpoint.seq == from_log.seq == 4
    north_objects = sum(1 for ks in truth.keys.values() for k in ks if "site=north" in k)
    assert len(from_log.consumed) == north_objects


def test_compact_main(source: tuple[LocalStore, RawLake], local_store: LocalStore,
                      capsys: pytest.CaptureFixture[str]) -> None:
    src, truth = source
    trickle(src, local_store, truth, rounds=2, options=IngestOptions(max_files=0))
    assert main(["--store", str(local_store.root), "--max-files", "1", "--workers", "1",
                 "--site", "north", "--dataset", "signals"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("north: ") and "partitions compacted" in out
    signal_files = {k: n for k, n in files_per_partition(local_store).items()
                    if "signals/site=north" in k}
    assert set(signal_files.values()) == {1}
    assert any(n > 1 for k, n in files_per_partition(local_store).items()
               if "site=south" in k)
