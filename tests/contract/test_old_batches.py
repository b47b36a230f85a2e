"""Batches written before the contract existed are still ingested, and a newer minor's
fields do not break an older reader.

``fixtures/*.ndjson.{gz,zst}`` are contract 1.0 batches (the ``schema_version: 1`` the
agents have always written) made by the batch writer as it was in ``fieldagent.outbox.
batching.build_item`` at commit fcad608, before ``fieldcontract``. They hold what agents of
every age sent: an image record with its sample and image hash, a zone record with model
output, a zone record of an agent that wrote neither ``type`` nor ``v``, and an image that
could not be analysed. They are bytes from the past: never regenerate them.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudjobs.lake.ingest import run_ingest
from cloudjobs.lake.parse import parse_object
from cloudjobs.store import LocalStore
from fieldcontract import keys
from fieldcontract.batch import read_batch, write_batch
from fieldcontract.records import ImageRecord, ZoneRecord, read_signal_record
from tests.cloudjobs_lake.helpers import rows

FIXTURES = Path(__file__).parent / "fixtures"
V1 = {"055830-e3e215c205d38106.ndjson.gz", "055830-91b3f8ef73ba3c1e.ndjson.zst"}
PREFIX = "raw/signals/site=gh-7/date=2025-06-01/"
NOW = datetime(2025, 6, 2, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(V1))
def test_a_v1_batch_is_still_ingested(tmp_path: Path, name: str) -> None:
    (tmp_path / "lake").mkdir()
    store = LocalStore(tmp_path / "lake")
    store.put(PREFIX + name, (FIXTURES / name).read_bytes())
    (report,) = run_ingest(store, now=NOW)
    assert report.rejected == () and report.ingested == 1
    signals = sorted(rows(store, "signals"), key=lambda r: r["zone"])
    assert [(r["zone"], r["trusted"], r["gcc_p90"]) for r in signals] == [
        ("bench-1", True, 0.412), ("bench-2", False, 0.39)]
    assert signals[0]["model_label"] == "healthy" and signals[0]["model_confidence"] == 0.91
    assert signals[0]["image_sha256"] == "9f" * 32 and signals[1]["image_sha256"] is None
    quality = sorted(rows(store, "quality"), key=lambda r: r["camera"])
    assert [(q["camera"], q["status"], q["reason"]) for q in quality] == [
        ("cam-1", "ok", None), ("cam-2", "rejected", "truncated")]
    assert quality[0]["sample_reason"] == "random" and quality[0]["width"] == 4000
    assert quality[0]["q_blur_effect"] == 0.21


def test_the_writer_still_makes_the_v1_bytes() -> None:
    """Rewriting the fixture's records gives the very same object under the same key: the
    contract changed no byte of what the agents send."""
    for name in V1:
        body = (FIXTURES / name).read_bytes()
        header, docs = read_batch(body)
        lines = [json.dumps(d, sort_keys=True, separators=(",", ":")) for d in docs]
        times = [datetime.fromisoformat(d["ts"]) for d in docs]
        again = write_batch(header["site"], lines, times, header["format"])
        assert again.key == PREFIX + name
        assert keys.parse_raw_key(again.key).digest == name.split("-")[1].split(".")[0]
        if name.endswith(".gz"):  # zstd's bytes may change with the library; the key cannot
            assert again.data == body


def test_a_newer_minor_field_is_kept_not_refused() -> None:
    """A field a later 1.x agent adds is compatible: it is ingested, and an older reader keeps
    it in ``extra`` so a record read and written again loses nothing."""
    doc = {"type": "zone", "v": 1, "ts": "2025-06-01T06:00:00+00:00", "camera": "cam-1",
           "id": "bench-1", "signals": {"gcc": 0.4}, "leaf_angle_deg": 31.5}
    record = read_signal_record(doc)
    assert isinstance(record, ZoneRecord) and record.extra == {"leaf_angle_deg": 31.5}
    assert record.to_json()["leaf_angle_deg"] == 31.5
    batch = write_batch("gh-7", [json.dumps(doc)], [record.ts], "ndjson+gzip")
    (row,) = parse_object(keys.parse_raw_key(batch.key), batch.data, len(batch.data)).rows
    assert row.values["gcc"] == 0.4


def test_a_newer_major_is_refused_whole_with_the_version() -> None:
    image = ImageRecord(ts=NOW, camera="cam-1", status="rejected", reason="truncated")
    doc = {**image.to_json(), "v": 2}
    with pytest.raises(ValueError, match="version 2 is not supported"):
        read_signal_record(doc)
    body = gzip.compress(b"")
    with pytest.raises(ValueError, match="not a signal batch"):
        read_batch(body)
