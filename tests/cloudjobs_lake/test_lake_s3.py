"""The same lake on S3 (SeaweedFS) as in a local folder: ingest, compaction and queries."""

from __future__ import annotations

from datetime import timedelta

from cloudjobs.lake import layout
from cloudjobs.lake.compact import CompactOptions, run_compact
from cloudjobs.lake.ingest import run_ingest
from cloudjobs.query.engine import Lake
from cloudjobs.query.saved import saved_queries
from cloudjobs.store import LocalStore, ObjectStore, S3Store
from tests.cloudjobs_lake.conftest import NOW
from tests.cloudjobs_lake.helpers import files_per_partition, rows
from tests.cloudjobs_lake.rawlake import DAYS, add_malformed, make_raw_lake

PARAMS = {"stress_rising": {"days": "1"}, "freshness": {"now": NOW.isoformat()}}


def build(store: ObjectStore) -> list[str]:
    """Raw lake + broken objects, ingested twice; returns the rejected keys."""
    make_raw_lake(store, sites=("north", "east"))
    add_malformed(store, "north", DAYS[1])
    first = run_ingest(store, now=NOW)
    second = run_ingest(store, now=NOW + timedelta(hours=1))
    assert not any(r.error for r in first + second)
    assert sum(r.ingested for r in second) == 0
    return sorted(x.key for r in first for x in r.rejected)


def saved_results(store: ObjectStore) -> dict[str, list[dict[str, object]]]:
    with Lake(store) as lake:
        return {name: lake.sql(q.sql, q.bind(PARAMS.get(name, {}))).to_pylist()
                for name, q in saved_queries().items()}


def test_s3_lake_equals_local_lake(s3_store: S3Store, local_store: LocalStore) -> None:
    rejected = build(s3_store)
    assert len(rejected) == 3 and rejected == build(local_store)
    assert all(s3_store.exists(layout.reason_key(k)) for k in rejected)
    for dataset in layout.DATASETS:
        assert rows(s3_store, dataset) == rows(local_store, dataset), dataset
    assert saved_results(s3_store) == saved_results(local_store)
    with Lake(s3_store) as lake:
        n = lake.sql("SELECT count(*) AS n FROM signals WHERE site = 'east'").to_pylist()
    assert n == [{"n": 54}]


def test_s3_compaction_keeps_every_row(s3_store: S3Store) -> None:
    make_raw_lake(s3_store, sites=("east",))
    keys = [o.key for o in s3_store.list("raw/")]
    for key in keys[::2]:  # a second round of files: delete and re-add half the raw objects
        s3_store.put(f"hold/{key}", s3_store.get(key))
        s3_store.delete(key)
    run_ingest(s3_store, now=NOW)
    for key in keys[::2]:
        s3_store.move(f"hold/{key}", key)
    run_ingest(s3_store, now=NOW)
    before = rows(s3_store, "signals")
    assert max(files_per_partition(s3_store).values()) == 2
    reports = run_compact(s3_store, options=CompactOptions(max_files=1), now=NOW)
    assert reports[0].error is None and reports[0].partitions > 0
    assert set(files_per_partition(s3_store).values()) == {1}
    assert rows(s3_store, "signals") == before
    assert not list(s3_store.list("staging/"))

