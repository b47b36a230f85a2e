"""Signal batches: when they close, what the object looks like, and how its key is made."""

from __future__ import annotations

import gzip
import hashlib
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.journal import RecordJournal
from fieldagent.outbox import Item, Limits, SqliteOutbox
from fieldagent.policy.model import BatchingPolicy
from fieldcontract.batch import read_batch
from tests.support.clock import T0, SimClock


def batching(**kw: object) -> BatchingPolicy:
    base: dict[str, object] = {"max_records": 100, "max_bytes": "64KB", "max_age": "10m"}
    return BatchingPolicy.model_validate({**base, **kw})


def record(i: int, when: datetime = T0) -> dict[str, object]:
    return {"ts": when.isoformat(), "camera": "cam1", "zone": f"B-{i % 4}", "gcc_p90": 0.41,
            "yellow_fraction": 0.02, "i": i}


@pytest.fixture
def box(tmp_path: Path) -> SqliteOutbox:
    outbox = SqliteOutbox(tmp_path / "outbox", limits=Limits.unlimited(), clock=lambda: T0)
    yield outbox
    outbox.close()


def batches(box: SqliteOutbox) -> list[tuple[Item, dict[str, object], list[dict[str, object]]]]:
    """Every batch object in the outbox, decoded, oldest first."""
    out = []
    for item in box.lease(now=T0 + timedelta(days=1), kinds=["signals"], limit=1000):
        with box.open_payload(item) as f:
            header, records = read_batch(f.read())
        out.append((item, header, records))
        box.release(item.id)
    return out


def test_a_batch_closes_at_max_records_with_its_header_first(box: SqliteOutbox) -> None:
    clock = SimClock()
    b = SignalBatcher(batching(max_records=3), "gh-12", clock, outbox=box)
    assert b.add([record(i, T0 + timedelta(seconds=i)) for i in range(7)]) == 7
    found = batches(box)
    assert [len(recs) for _, _, recs in found] == [3, 3] and b.pending == 1
    item, header, recs = found[0]
    assert header == {
        "type": "batch_header", "schema_version": 1, "site": "gh-12", "kind": "signals",
        "count": 3, "first_ts": T0.isoformat(), "last_ts": (T0 + timedelta(seconds=2)).isoformat(),
        "format": "ndjson+gzip",
    }
    assert [r["i"] for r in recs] == [0, 1, 2]
    assert item.key.startswith("raw/signals/site=gh-12/date=2026-06-01/060000-")
    assert item.key.endswith(".ndjson.gz") and item.content_type == "application/gzip"
    assert item.meta["object_metadata"]["count"] == "3"


def test_a_batch_closes_before_max_bytes_of_record_lines(box: SqliteOutbox) -> None:
    b = SignalBatcher(batching(max_records=10_000, max_bytes="2KB"), "gh-12", SimClock(),
                      outbox=box)
    line_size = len(b'{"camera":"cam1","gcc_p90":0.41,"i":10,"ts":"2026-06-01T06:00:00+00:00",'
                    b'"yellow_fraction":0.02,"zone":"B-2"}\n')
    b.add([record(i) for i in range(10, 60)])
    found = batches(box)
    per_batch = 2000 // line_size
    assert [len(r) for _, _, r in found] == [per_batch] * (50 // per_batch)
    for item, _, _ in found:
        with box.open_payload(item) as f:
            raw = gzip.decompress(f.read())
        body = raw.split(b"\n", 1)[1]  # record lines only
        assert len(body) <= 2000


def test_a_batch_closes_when_its_oldest_record_reaches_max_age(box: SqliteOutbox) -> None:
    clock = SimClock()
    b = SignalBatcher(batching(max_age="10m"), "gh-12", clock, outbox=box)
    b.add([record(0)])
    clock.now += timedelta(minutes=9)
    b.add([record(1, clock.now)])
    assert b.poll() == 0 and batches(box) == []
    clock.now += timedelta(minutes=1)
    assert b.poll() == 1
    (_, header, recs), = batches(box)
    assert header["count"] == 2 and [r["i"] for r in recs] == [0, 1]
    assert b.pending == 0 and b.poll() == 0


def test_zstd_batches_decode_the_same(box: SqliteOutbox) -> None:
    b = SignalBatcher(batching(format="ndjson+zstd", max_records=5), "gh-12", SimClock(),
                      outbox=box)
    b.add([record(i) for i in range(5)])
    (item, header, recs), = batches(box)
    assert item.key.endswith(".ndjson.zst") and header["format"] == "ndjson+zstd"
    assert [r["i"] for r in recs] == list(range(5))


def test_the_key_digest_is_the_sha256_of_the_uncompressed_ndjson(box: SqliteOutbox) -> None:
    b = SignalBatcher(batching(max_records=2), "gh-12", SimClock(), outbox=box)
    b.add([record(1), record(2)])
    (item, _, _), = batches(box)
    with box.open_payload(item) as f:
        raw = gzip.decompress(f.read())
    assert item.key.split("-")[-1] == hashlib.sha256(raw).hexdigest()[:16] + ".ndjson.gz"
    assert raw.endswith(b"\n") and raw.count(b"\n") == 3


def test_the_same_records_make_the_same_key_and_other_records_another(tmp_path: Path) -> None:
    keys = []
    for n, recs in enumerate([[record(1), record(2)], [record(1), record(2)], [record(1)]]):
        box = SqliteOutbox(tmp_path / f"b{n}", limits=Limits.unlimited(), clock=lambda: T0)
        SignalBatcher(batching(max_records=len(recs)), "gh-12", SimClock(), outbox=box).add(recs)
        keys.append(box.lease(now=T0, limit=1)[0].key)
        box.close()
    assert keys[0] == keys[1] != keys[2]


def test_a_record_that_is_not_json_refuses_the_whole_call(tmp_path: Path) -> None:
    box = SqliteOutbox(tmp_path / "o", limits=Limits.unlimited(), clock=lambda: T0)
    journal = RecordJournal(tmp_path / "j.db")
    b = SignalBatcher(batching(), "gh-12", SimClock(), outbox=box, journal=journal)
    with pytest.raises(ValueError, match=r"record #1 .*nothing of this call was accepted"):
        b.add([record(0), {"ts": T0.isoformat(), "gcc": math.nan}])
    with pytest.raises(ValueError, match="record #0"):
        b.add([{"blob": object()}])
    assert b.pending == 0 and journal.open_records() == []
    box.close()


def test_record_times_fall_back_to_acceptance_and_naive_means_utc(box: SqliteOutbox) -> None:
    clock = SimClock()
    clock.now = T0 + timedelta(hours=1)
    b = SignalBatcher(batching(max_records=3), "gh-12", clock, outbox=box)
    b.add([{"zone": "A"}, {"ts": "2026-06-01T05:30:00", "zone": "B"},
           {"ts": datetime(2026, 6, 1, 9, 0, tzinfo=UTC), "zone": "C"}])
    (_, header, recs), = batches(box)
    assert header["first_ts"] == "2026-06-01T05:30:00+00:00"
    assert header["last_ts"] == "2026-06-01T09:00:00+00:00"
    assert recs[2]["ts"] == "2026-06-01T09:00:00+00:00"  # a datetime is stored as ISO text


def test_a_bad_site_id_is_refused_at_once(box: SqliteOutbox) -> None:
    with pytest.raises(ValueError, match="site"):
        SignalBatcher(batching(), "Greenhouse.12", SimClock(), outbox=box)
