"""``cloudjobs ingest``: exactly once, malformed objects aside, crash- and race-safe commits."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from cloudjobs.lake import layout
from cloudjobs.lake.ingest import IngestOptions, SiteReport, ingest_site, main, run_ingest
from cloudjobs.lake.txlog import load_log
from cloudjobs.store import LocalStore
from tests.cloudjobs_lake.conftest import NOW
from tests.cloudjobs_lake.helpers import Crash, FaultyStore, counts, rows
from tests.cloudjobs_lake.rawlake import DAYS, RawLake, add_malformed, make_raw_lake


def expected_counts(truth: RawLake) -> dict[str, int]:
    return {"signals": len(truth.zone_records), "quality": len(truth.image_records),
            "alerts": len(truth.alerts), "heartbeats": len(truth.heartbeats),
            "images": len(truth.images), "model_reports": len(truth.model_reports)}


def test_ingest_turns_every_record_into_one_row(ingested: tuple[LocalStore, RawLake]) -> None:
    store, truth = ingested
    assert counts(store) == expected_counts(truth)
    signals = rows(store, "signals")
    by_partition = Counter((r["site"], r["date"]) for r in signals)
    assert by_partition == Counter((r["site"], r["ts"][:10]) for r in truth.zone_records)
    one = next(r for r in signals if (r["site"], r["camera"], r["zone"]) ==
               ("south", "cam-1", "bench-2") and r["ts"].hour == 10 and r["date"] == "2024-05-07")
    source = next(r for r in truth.zone_records if (r["site"], r["camera"], r["id"], r["ts"]) ==
                  ("south", "cam-1", "bench-2", one["ts"].isoformat()))
    assert one["stress_score"] == source["signals"]["stress_score"]
    assert one["model_label"] == source["model"]["label"] == "chlorosis"
    assert one["batch_key"].startswith("raw/signals/site=south/date=2024-05-07/")
    assert str(one["ts"].tzinfo) == "UTC"


def test_new_columns_union_with_nulls(ingested: tuple[LocalStore, RawLake]) -> None:
    """``leaf_wetness`` only exists at east on day 2; ``q_dark_channel`` only on day 2."""
    store, _ = ingested
    signals = rows(store, "signals")
    wet = Counter((r["site"], r["date"]) for r in signals if r["leaf_wetness"] is not None)
    assert set(wet) == {("east", "2024-05-07")}
    quality = [r for r in rows(store, "quality") if r["status"] == "ok"]
    assert {r["date"] for r in quality if r["q_dark_channel"] is not None} == {"2024-05-07"}
    assert all(r["q_mean_luminance"] is not None for r in quality)


def test_records_of_every_kind_keep_their_fields(ingested: tuple[LocalStore, RawLake]) -> None:
    store, truth = ingested
    legacy = [r for r in rows(store, "signals")
              if (r["site"], r["camera"], r["zone"], r["ts"].hour, r["date"]) ==
              ("north", "cam-1", "bench-1", 8, "2024-05-06")]
    assert len(legacy) == 1  # the record without "type" was read as a zone record
    rejected = [r for r in rows(store, "quality") if r["status"] == "rejected"]
    assert [(r["site"], r["camera"], r["reason"], r["ok"]) for r in rejected] == [
        ("east", "cam-1", "truncated", None)]
    alerts = rows(store, "alerts")
    raised = [a for a in alerts if a["state"] == "raised"]
    assert {a["evidence_key"] for a in raised} == {k for k in truth.images if "/evidence/" in k}
    assert all(json.loads(a["why"]) == {"threshold": 3.0, "value": 3.2} for a in alerts)
    heartbeat = next(r for r in rows(store, "heartbeats") if r["site"] == "south")
    assert heartbeat["device"] == "south-edge"
    assert heartbeat["disk_free_bytes"] == 29_000_000_000
    assert heartbeat["cpu_temp_c"] == 51.0
    assert "quality_fail_total_fog" in heartbeat  # nested maps are flattened with _
    assert json.loads(heartbeat["raw"])["kind"] == "heartbeat"
    images = rows(store, "images")
    assert {r["key"]: r["bytes"] for r in images} == truth.images
    assert {(r["kind"], r["reason"], r["mode"]) for r in images} == {
        ("image", "daily_reference", "frame"), ("evidence", "alert_evidence", None)}
    reports = rows(store, "model_reports")
    assert {(r["site"], r["event"], r["version"]) for r in reports} == {
        (s, "installed", "1.1.0") for s in ("north", "south", "east")}


def test_second_run_ingests_nothing(local_store: LocalStore) -> None:
    truth = make_raw_lake(local_store, sites=("north",))
    first = run_ingest(local_store, now=NOW)
    before = counts(local_store)
    second = run_ingest(local_store, now=NOW + timedelta(hours=1))
    assert first[0].ingested == truth.objects and first[0].already == 0
    assert (second[0].ingested, second[0].already, second[0].parts) == (0, truth.objects, 0)
    assert counts(local_store) == before == expected_counts(truth)


def test_malformed_objects_are_set_aside_and_the_rest_goes_in(local_store: LocalStore) -> None:
    truth = make_raw_lake(local_store, sites=("north",))
    broken = add_malformed(local_store, "north", DAYS[1])
    report = run_ingest(local_store, now=NOW)[0]
    assert report.error is None
    assert {r.key for r in report.rejected} == set(broken)
    assert report.ingested == truth.objects
    assert counts(local_store) == expected_counts(truth)
    for key, word in broken.items():
        assert local_store.get(layout.rejected_key(key)) == local_store.get(key)
        reason = json.loads(local_store.get(layout.reason_key(key)))
        assert word in reason["reason"] and reason["key"] == key
    again = run_ingest(local_store, now=NOW + timedelta(hours=1))[0]
    assert again.rejected == () and again.already == truth.objects + len(broken)


def test_since_skips_older_date_folders(local_store: LocalStore) -> None:
    make_raw_lake(local_store, sites=("south",))
    report = run_ingest(local_store, options=IngestOptions(since=DAYS[1]), now=NOW)[0]
    assert {r["date"] for r in rows(local_store, "signals")} == {"2024-05-07"}
    assert report.listed == report.ingested


def test_crash_before_the_commit_leaves_nothing_counted(local_store: LocalStore) -> None:
    """Parts staged, the ledger never written: the re-run ingests everything once and the
    stale staging is cleaned up once it is old enough."""
    truth = make_raw_lake(local_store, sites=("north",))
    faulty = FaultyStore(local_store.root, lambda op, key: "/log/" in key)
    with pytest.raises(Crash):
        ingest_site(faulty, "north", IngestOptions(), NOW)
    assert list(local_store.list("staging/"))  # the staged parts are there
    assert counts(local_store) == dict.fromkeys(expected_counts(truth), 0)
    report = run_ingest(local_store, now=NOW)[0]
    assert report.ingested == truth.objects and report.discarded == 0
    assert counts(local_store) == expected_counts(truth)
    later = run_ingest(local_store, now=NOW + timedelta(hours=7))[0]
    assert later.discarded == 1 and later.ingested == 0
    assert not list(local_store.list("staging/"))
    assert counts(local_store) == expected_counts(truth)


def test_crash_while_publishing_is_finished_by_the_next_run(local_store: LocalStore) -> None:
    """Committed, then killed after one part was published: readers see fewer rows, never
    more, and the next run publishes the rest without ingesting anything again."""
    truth = make_raw_lake(local_store, sites=("north",))
    copies: list[str] = []

    def second_copy(op: str, key: str) -> bool:
        if op == "copy" and key.startswith("curated/"):
            copies.append(key)
        return len(copies) == 2

    with pytest.raises(Crash):
        ingest_site(FaultyStore(local_store.root, second_copy), "north", IngestOptions(), NOW)
    partial = counts(local_store)
    assert 0 < sum(partial.values()) < sum(expected_counts(truth).values())
    report = run_ingest(local_store, now=NOW)[0]
    assert (report.rolled_forward, report.ingested) == (1, 0)
    assert counts(local_store) == expected_counts(truth)
    assert not list(local_store.list("staging/"))


def test_two_runs_on_one_site_never_double_count(local_store: LocalStore) -> None:
    """Run B commits the same objects while run A is about to: A gives up, cleanly."""
    truth = make_raw_lake(local_store, sites=("south",))
    other: list[SiteReport] = []
    racing = FaultyStore(
        local_store.root, lambda op, key: op == "put" and "/log/" in key,
        before=lambda: other.append(ingest_site(local_store, "south", IngestOptions(), NOW)),
    )
    report = ingest_site(racing, "south", IngestOptions(), NOW)
    assert report.error is not None and "another run" in report.error
    assert other and other[0].ingested == truth.objects
    assert counts(local_store) == expected_counts(truth)
    assert not list(local_store.list("staging/"))
    assert load_log(local_store, "south").seq == 1


def test_a_commit_retries_past_an_unrelated_one(
    local_store: LocalStore, new_local_store: Callable[[str], LocalStore]
) -> None:
    """A compaction committing in between touches no raw object: the ingest commits next."""
    from cloudjobs.lake.compact import CompactOptions, compact_site

    source = new_local_store("source")
    truth = make_raw_lake(source, sites=("east",))
    keys = sorted(k for ks in truth.keys.values() for k in ks)
    for part in (keys[::4], keys[2::4]):  # two files in some partitions: work to compact
        for key in part:
            local_store.put(key, source.get(key))
        run_ingest(local_store, options=IngestOptions(max_files=0), now=NOW)
    for key in keys[1::2]:
        local_store.put(key, source.get(key))
    racing = FaultyStore(
        local_store.root, lambda op, key: op == "put" and "/log/" in key,
        before=lambda: compact_site(local_store, "east", CompactOptions(max_files=1), NOW),
    )
    report = ingest_site(racing, "east", IngestOptions(max_files=0), NOW)
    assert report.error is None and report.ingested == len(keys[1::2])
    assert load_log(local_store, "east").seq == 4  # ingest, ingest, compaction, ingest
    assert counts(local_store) == expected_counts(truth)


def test_unknown_raw_kinds_are_left_alone(local_store: LocalStore) -> None:
    make_raw_lake(local_store, sites=("east",))
    local_store.put("raw/thermal/site=east/date=2024-05-06/000000-0123456789abcdef.bin", b"x")
    report = run_ingest(local_store, now=NOW)[0]
    assert report.unknown_kinds == ("thermal",) and report.rejected == ()


def test_a_key_outside_the_scheme_is_rejected(local_store: LocalStore) -> None:
    make_raw_lake(local_store, sites=("east",))
    local_store.put("raw/alert/site=east/date=2024-05-06/notes.txt", b"hello")
    report = run_ingest(local_store, now=NOW)[0]
    assert [r.key for r in report.rejected] == ["raw/alert/site=east/date=2024-05-06/notes.txt"]
    assert "raw key scheme" in report.rejected[0].reason


def test_main_reports_and_exit_codes(
    local_store: LocalStore, capsys: pytest.CaptureFixture[str]
) -> None:
    make_raw_lake(local_store, sites=("north",))
    add_malformed(local_store, "north", DAYS[0])
    assert main(["--store", str(local_store.root), "--workers", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[0]["site"] == "north" and len(report[0]["rejected"]) == 3
    assert main(["--store", f"{local_store.root}/missing", "--workers", "1"]) == 1
    assert "does not exist" in capsys.readouterr().err
