"""Every record an agent emits reaches the lake unchanged: record -> to_json -> the agent's
encoders (batch writer, document encoder) -> the lake's parser -> the same values.

Drawn by hypothesis from the shapes the agent builds (``strategies``); the last test runs the
real agent (pipeline, offloader, outbox) on a generated camera sequence instead."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudjobs.lake.parse import Parsed, Row, parse_object
from fieldcontract import keys
from fieldcontract.batch import encode_line, read_batch, write_batch
from fieldcontract.records import (
    AlertRecord,
    Heartbeat,
    ImageRecord,
    ModelReport,
    ZoneRecord,
    encode_document,
    read_signal_record,
)
from tests.contract import strategies as gen

SITE = "gh-7"
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _through_batch(records: list[ImageRecord | ZoneRecord]) -> tuple[list[dict[str, Any]], Parsed]:
    """What the agent's batch writer makes of ``records`` and what the lake reads from it."""
    lines = [encode_line(r.to_json()) for r in records]
    batch = write_batch(SITE, lines, [r.ts for r in records], "ndjson+gzip")
    _, docs = read_batch(batch.data)
    return docs, parse_object(keys.parse_raw_key(batch.key), batch.data, len(batch.data))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _expected_row(record: ImageRecord | ZoneRecord) -> dict[str, Any]:
    """The row the lake must make of a record, by hand from the record's fields."""
    named = {"ts": record.ts, "camera": record.camera, "flags": list(record.flags),
             "image_sha256": record.image_sha256, "file": record.file}
    if isinstance(record, ZoneRecord):
        m = record.model
        return {**named, "zone": record.id, "trusted": record.trusted,
                "model_label": m and m.label, "model_confidence": m and _number(m.confidence),
                "model_entropy": m and _number(m.entropy), "model_version": m and m.model_version,
                **{k: _number(v) for k, v in record.signals.items()}}
    shift, size = record.shift_px or (None, None), record.size or (None, None)
    return {**named, "status": record.status, "reason": record.reason, "ok": record.ok,
            "shift_x": _number(shift[0]), "shift_y": _number(shift[1]),
            "width": size[0], "height": size[1],
            "sample_key": record.sample.key if record.sample else None,
            "sample_reason": record.sample.reason if record.sample else None,
            **{f"q_{k}": _number(v) for k, v in record.metrics.items()}}


@SETTINGS
@given(st.lists(gen.image_records() | gen.zone_records(), min_size=1, max_size=6))
def test_signal_records_reach_the_lake_unchanged(records: list[ImageRecord | ZoneRecord]) -> None:
    docs, parsed = _through_batch(records)
    assert [read_signal_record(doc) for doc in docs] == records
    assert len(parsed.rows) == len(records)
    for record, row in zip(records, parsed.rows, strict=True):
        assert row.dataset == ("signals" if isinstance(record, ZoneRecord) else "quality")
        assert row.date == record.ts.date().isoformat()
        values = {k: v for k, v in row.values.items() if k != "batch_key"}
        assert values == _expected_row(record)


def _through_document(kind: str, record: AlertRecord | Heartbeat | ModelReport) -> Row:
    body = encode_document(record.to_json())
    camera = record.camera if isinstance(record, AlertRecord) else None
    key = keys.object_key(kind, SITE, record.at, "ab" * 32, suffix=".json", camera=camera)
    (row,) = parse_object(keys.parse_raw_key(key), body, len(body)).rows
    return row


@SETTINGS
@given(gen.alert_records)
def test_alerts_reach_the_lake_unchanged(alert: AlertRecord) -> None:
    alert = AlertRecord(**{**alert.__dict__, "site": SITE})
    assert AlertRecord.from_json(json.loads(encode_document(alert.to_json()))) == alert
    row = _through_document(keys.ALERT, alert)
    assert row.values == {
        "at": alert.at, "since": alert.since, "camera": alert.camera, "zone": alert.zone,
        "rule": alert.rule, "state": alert.state, "severity": alert.severity,
        "what": alert.what, "message": alert.message, "episode": alert.key,
        "evidence_key": alert.evidence, "why": json.dumps(dict(alert.why), sort_keys=True),
        "object_key": row.values["object_key"]}


@SETTINGS
@given(gen.heartbeats)
def test_heartbeats_reach_the_lake_unchanged(beat: Heartbeat) -> None:
    beat = Heartbeat(**{**beat.__dict__, "site": SITE})
    doc = json.loads(encode_document(beat.to_json()))
    assert Heartbeat.from_json(doc) == beat
    row = _through_document(keys.HEARTBEAT, beat)
    assert (row.values["at"], row.values["device"], row.values["agent_version"],
            row.values["model_version"]) == (beat.at, beat.device, beat.agent_version,
                                              beat.model_version)
    assert json.loads(row.values["raw"]) == doc
    if beat.disk_free_bytes is not None:
        assert row.values["disk_free_bytes"] == float(beat.disk_free_bytes)


@SETTINGS
@given(gen.model_reports)
def test_model_reports_reach_the_lake_unchanged(report: ModelReport) -> None:
    report = ModelReport(**{**report.__dict__, "site": SITE})
    doc = json.loads(encode_document(report.to_json()))
    assert ModelReport.from_json(doc) == report
    row = _through_document(keys.MODEL_REPORT, report)
    assert (row.values["at"], row.values["event"], row.values["version"],
            row.values["reason"]) == (report.at, report.event, report.version, report.reason)
    assert json.loads(row.values["raw"]) == doc


@pytest.mark.slow
def test_what_the_real_agent_sends_parses_back_to_the_same_records(tmp_path: Path) -> None:
    """The demo greenhouse's first camera through the real pipeline and offloader: every
    batch line reads back as the record the agent built, every object parses in the lake."""
    from fieldagent.config.loader import validate
    from fieldagent.config.site import SiteConfig
    from fieldagent.demo import START, plans, site_config
    from fieldagent.inference.session import StressModel
    from fieldagent.offload.batcher import SignalBatcher
    from fieldagent.offload.offloader import Offloader, image_records
    from fieldagent.outbox import MemoryOutbox
    from fieldagent.pipeline import CameraPipeline
    from fieldagent.policy.loader import load_policy
    from fieldagent.synth import save_jpeg, series

    plan = plans(640, 3)[0]
    site = validate(SiteConfig, site_config([plan]), "test")
    pipe = CameraPipeline(site, site.cameras[0], StressModel.load(site.model))
    policy = load_policy("default")
    now = [START]
    box = MemoryOutbox(clock=lambda: now[0])
    batcher = SignalBatcher(policy.batching, site.site.id, lambda: now[0], outbox=box)
    off = Offloader(policy, site.site.id, box, batcher, [site.cameras[0].id],
                    clock=lambda: now[0])
    built: list[ImageRecord | ZoneRecord] = []
    stress = {i: (c, 0) for i, (c, _) in plan.stress.items()}
    for frame in series(plan.spec, frames=6, start=START, interval=timedelta(minutes=30),
                        stress_plan=stress):
        path = tmp_path / f"{frame.timestamp:%H%M}.jpg"
        save_jpeg(frame.image, path, quality=88, timestamp=frame.timestamp)
        result = pipe.process(path, captured_at=frame.timestamp)
        now[0] = frame.timestamp
        out = off.handle(result, path)
        built += image_records(result, out, seen_at=frame.timestamp)
    batcher.flush()
    sent: list[ImageRecord | ZoneRecord] = []
    kinds = set()
    for item in box.lease(now=START + timedelta(days=1), limit=1000):
        kinds.add(item.kind)
        with box.open_payload(item) as f:
            body = f.read()
        parse_object(keys.parse_raw_key(item.key), body, len(body))  # no object is refused
        if item.kind == keys.SIGNALS:
            sent += [read_signal_record(doc) for doc in read_batch(body)[1]]
    assert sent == built and len(built) > 6
    assert kinds >= {"signals", "alert", "image"}  # batches, the chlorosis alert, samples
