"""Hypothesis strategies for every record the agents send, shaped as the agents build them
(``fieldagent.offload.offloader.image_records``, ``Alert.to_record``, ``build_heartbeat``,
the updater's model reports): the round-trip tests draw from these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from cloudjobs.lake.schema import SPECS, column_name
from fieldcontract.records import (
    AlertRecord,
    Heartbeat,
    ImageRecord,
    ModelOutputRecord,
    ModelReport,
    SampleRef,
    ZoneRecord,
)

names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,15}", fullmatch=True)
texts = st.text(min_size=1, max_size=40)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                     timezones=st.just(UTC))
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
numbers = st.one_of(finite, st.integers(-(2**53), 2**53))
maybe = st.none() | finite
digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)


def column_names(dataset: str, prefix: str = "") -> st.SearchStrategy[str]:
    """Names the lake turns into open columns of ``dataset`` (not a fixed column)."""
    fixed = SPECS[dataset].fixed
    return st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
        lambda n: column_name(n, prefix) == f"{prefix}{n}" and f"{prefix}{n}" not in fixed)


@st.composite
def image_records(draw: st.DrawFn) -> ImageRecord:
    named: dict[str, Any] = draw(st.sampled_from([{}, {"image_sha256": draw(digests),
                                                       "file": draw(texts)}]))
    base = {"ts": draw(times), "camera": draw(names), **named}
    if draw(st.booleans()):  # an image that could not be analysed
        return ImageRecord(**base, status="rejected", reason=draw(names),
                           message=draw(st.none() | texts))
    sample = draw(st.none() | st.builds(SampleRef, names, names, st.sampled_from(
        ["crop", "frame", "thumbnail"])))
    return ImageRecord(
        **base, status="ok", ok=draw(st.booleans()),
        flags=tuple(draw(st.lists(names, max_size=3))),
        metrics=draw(st.dictionaries(column_names("quality", "q_"), maybe, max_size=4)),
        shift_px=(draw(finite), draw(finite)),
        size=(draw(st.integers(1, 20_000)), draw(st.integers(1, 20_000))),
        alerts=tuple(draw(st.lists(names, max_size=2))), sample=sample)


model_outputs = st.builds(
    ModelOutputRecord, label=names, confidence=finite, entropy=finite, model_version=names,
    probabilities=st.dictionaries(names, finite, max_size=4), top_class=names,
    ood_score=maybe, may_override=st.booleans())


@st.composite
def zone_records(draw: st.DrawFn) -> ZoneRecord:
    named: dict[str, Any] = draw(st.sampled_from([{}, {"image_sha256": draw(digests),
                                                       "file": draw(texts)}]))
    return ZoneRecord(
        ts=draw(times), camera=draw(names), id=draw(names), **named,
        bbox=tuple(draw(st.lists(finite, min_size=4, max_size=4))),
        trusted=draw(st.booleans()), flags=tuple(draw(st.lists(names, max_size=3))),
        signals=draw(st.dictionaries(column_names("signals"), maybe, max_size=5)),
        model=draw(st.none() | model_outputs))


alert_records = st.builds(
    AlertRecord, site=names, camera=names, zone=names, rule=names,
    state=st.sampled_from(["raised", "resolved"]), severity=names, what=texts,
    why=st.dictionaries(names, finite | names, max_size=3), at=times, since=times,
    message=texts, key=texts, evidence=st.none() | texts)

_counts = st.dictionaries(names, st.integers(0, 10**6), max_size=3)
heartbeats = st.builds(
    Heartbeat, at=times, site=names, device=names, agent_version=names,
    model_version=st.none() | names, started_at=times, uptime_s=finite,
    images_total=st.dictionaries(names, _counts, max_size=2), rejected_total=_counts,
    quality_fail_rate=st.dictionaries(names, maybe, max_size=3), outbox_items=st.integers(0),
    outbox_drops=_counts, outbox_last_success_at=st.none() | times,
    uplink_link_state=st.sampled_from(["closed", "open", "half_open"]),
    uplink_down_since=st.none() | times, disk_free_bytes=st.integers(0, 2**50),
    cpu_temp_c=maybe, alerts_active=st.integers(0, 100), alerts_enabled=st.booleans())

model_reports = st.builds(
    ModelReport, at=times, event=st.sampled_from(["installed", "refused", "rolled_back"]),
    version=names, reason=st.none() | names, message=texts, site=names, device=names,
    agent_version=names, running_version=names,
    figures=st.dictionaries(st.from_regex(r"m_[a-z]{1,8}", fullmatch=True), numbers,
                            max_size=3))
