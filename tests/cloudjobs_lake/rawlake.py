"""A small multi-site raw lake, written with the agent's own encoders, for the cloud job tests.

``make_raw_lake(store)`` writes what three sites' agents would have uploaded over two days:
signal batches (``fieldagent.offload.batcher.build_item``), alerts (``Alert.to_dict``)
with evidence crops, sampled images, heartbeats (``fieldagent.telemetry.heartbeat``) and
model reports, under the keys ``fieldcontract.keys.object_key`` builds. It returns a
:class:`RawLake` holding every record it wrote, so a test can compute expected numbers by
hand (plain Python over the records) and compare them with what the cloud jobs produce.

What is in it (deterministic, no randomness):

* sites ``north``, ``south``, ``east``; cameras ``cam-1``, ``cam-2``; zones ``bench-1``,
  ``bench-2``; images at 06, 08, ..., 18 UTC on 2024-05-06 and 2024-05-07;
* ``stress_score`` rises by ``STRESS_JUMP`` on day 2 in ``south/cam-1/bench-2`` only
  (every zone also drifts a little, by site);
* ``north/cam-2`` fails quality (fog) at 06:00 on both days (a recurring failure),
  ``south/cam-2`` is dark at 18:00 on day 1 only (not recurring), ``east/cam-1``'s 12:00
  image on day 2 is rejected (truncated);
* day 2 at ``east`` adds a new signal ``leaf_wetness`` and every day-2 image record a new
  quality metric ``dark_channel`` (schema evolution);
* one zone record of ``north`` on day 1 has no ``type`` (older agents);
* ``east`` sends no heartbeat after 2024-05-07 12:00 (freshness).

``add_malformed(store, site, day)`` adds three objects the ingest must set aside.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from PIL import Image

from fieldagent.alerts.rules import Alert
from fieldagent.offload.batcher import build_item
from fieldagent.offload.journal import Record, SealedBatch
from fieldagent.policy.model import BatchingPolicy
from fieldagent.telemetry.heartbeat import build_heartbeat
from fieldagent.telemetry.stats import AgentStats
from fieldagent.telemetry.system import SystemSnapshot
from fieldcontract.batch import BatchHeader, compress, encode_line
from fieldcontract.keys import object_key

SITES = ("north", "south", "east")
CAMERAS = ("cam-1", "cam-2")
ZONES = ("bench-1", "bench-2")
HOURS = (6, 8, 10, 12, 14, 16, 18)
DAYS = (date(2024, 5, 6), date(2024, 5, 7))
STRESS_JUMP = 2.0
RISING = ("south", "cam-1", "bench-2")
MODEL_VERSION = "1.0.0"


class PutStore(Protocol):
    """All the generator needs: ``put(key, data)`` (an ObjectStore has it)."""

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> bool: ...


@dataclass
class RawLake:
    """Everything ``make_raw_lake`` wrote, by kind; records carry their ``site``."""

    keys: dict[str, list[str]] = field(default_factory=dict)
    zone_records: list[dict[str, Any]] = field(default_factory=list)
    image_records: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    model_reports: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)
    """Image and evidence object keys -> size in bytes."""

    def add_key(self, kind: str, key: str) -> None:
        self.keys.setdefault(kind, []).append(key)

    @property
    def objects(self) -> int:
        return sum(len(v) for v in self.keys.values())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def stress(site: str, camera: str, zone: str, day_index: int, hour: int) -> float:
    """The stress score the generator gives a zone reading (module docstring)."""
    base = 0.3 + 0.1 * SITES.index(site) + 0.05 * CAMERAS.index(camera) + 0.02 * ZONES.index(zone)
    drift = 0.05 * (SITES.index(site) + 1) * day_index + 0.01 * HOURS.index(hour)
    jump = STRESS_JUMP if (site, camera, zone) == RISING and day_index == 1 else 0.0
    return round(base + drift + jump, 4)


def make_raw_lake(store: PutStore, *, sites: tuple[str, ...] = SITES,
                  days: tuple[date, ...] = DAYS) -> RawLake:
    """Write the raw lake of the module docstring into ``store``; return what was written."""
    lake = RawLake()
    for site in sites:
        for day_index, day in enumerate(days):
            _site_day(store, lake, site, day_index, day)
        _model_report(store, lake, site, at(days[0], 3))
    return lake


def _site_day(store: PutStore, lake: RawLake, site: str, day_index: int, day: date) -> None:
    records: list[dict[str, Any]] = []
    for hour in HOURS:
        for camera in CAMERAS:
            records += _image(store, lake, site, camera, day_index, day, hour)
    morning = [r for r in records if r["ts"] < at(day, 12).isoformat()]
    afternoon = [r for r in records if r["ts"] >= at(day, 12).isoformat()]
    for no, batch in enumerate((morning, afternoon), start=1):
        _batch(store, lake, site, batch, no)
    for hour in (0, 6, 12, 18):
        if not (site == "east" and day_index == 1 and hour > 12):
            _heartbeat(store, lake, site, at(day, hour), day_index)
    _alerts(store, lake, site, day_index, day)


def _image(store: PutStore, lake: RawLake, site: str, camera: str, day_index: int, day: date,
           hour: int) -> list[dict[str, Any]]:
    ts = at(day, hour).isoformat()
    image: dict[str, Any] = {"type": "image", "v": 1, "ts": ts, "camera": camera}
    if (site, camera, day_index, hour) == ("east", "cam-1", 1, 12):
        image.update(status="rejected", reason="truncated",
                     message="the file ends early: the camera was still writing it")
        lake.image_records.append({**image, "site": site})
        return [image]
    flags = []
    if (site, camera, hour) == ("north", "cam-2", 6):
        flags = ["fog"]
    if (site, camera, day_index, hour) == ("south", "cam-2", 0, 18):
        flags = ["dark"]
    metrics = {"mean_luminance": 0.4 + 0.01 * HOURS.index(hour), "blur_effect": 0.2,
               "rms_contrast": 0.1 if flags else 0.3}
    if day_index == 1:
        metrics["dark_channel"] = 0.05 * (CAMERAS.index(camera) + 1)
    image.update(status="ok", ok=not flags, flags=flags, metrics=metrics, shift_px=[0.5, -0.25],
                 size=[4000, 3000], alerts=[])
    if hour == 12:
        key = _put(store, lake, "image", _jpeg(f"{site}{camera}{ts}"), ".jpg", site, camera,
                   at(day, hour))
        image["sample"] = {"key": key, "reason": "daily_reference", "mode": "frame"}
    lake.image_records.append({**image, "site": site})
    zones = [_zone(site, camera, zone, day_index, hour, ts, trusted=not flags) for zone in ZONES]
    lake.zone_records += [{**z, "site": site} for z in zones]
    if (site, day_index, hour, camera) == ("north", 0, 8, "cam-1"):
        del zones[0]["type"], zones[0]["v"]  # an older agent's record
    return [image, *zones]


def _zone(site: str, camera: str, zone: str, day_index: int, hour: int, ts: str, *,
          trusted: bool) -> dict[str, Any]:
    score = stress(site, camera, zone, day_index, hour)
    signals: dict[str, float | None] = {
        "plant_area_px": 150000.0 + 1000 * HOURS.index(hour), "canopy_cover": 0.45,
        "gcc": 0.38, "gcc_p90": 0.41, "yellow_fraction": round(0.05 + score / 20, 4),
        "brown_fraction": 0.01, "hue_mean_deg": 95.0, "stress_score": score,
        "growth_rate": None,
    }
    if site == "east" and day_index == 1:
        signals["leaf_wetness"] = 0.3
    label = "chlorosis" if score > 1.5 else "healthy"
    return {
        "type": "zone", "v": 1, "ts": ts, "camera": camera, "id": zone,
        "bbox": [0.1, 0.1, 0.5, 0.9] if zone == "bench-1" else [0.5, 0.1, 0.9, 0.9],
        "trusted": trusted, "flags": [] if trusted else ["untrusted_quality"],
        "signals": signals,
        "model": {"label": label, "confidence": 0.9, "entropy": 0.2,
                  "probabilities": {label: 0.9, "wilting": 0.1},
                  "model_version": MODEL_VERSION},
    }


def _batch(store: PutStore, lake: RawLake, site: str, records: list[dict[str, Any]],
           no: int) -> str:
    """One signal batch object, exactly as the agent's batcher builds it."""
    rows = tuple(
        Record(i, json.dumps(r, sort_keys=True, separators=(",", ":")),
               datetime.fromisoformat(r["ts"]), datetime.fromisoformat(r["ts"]))
        for i, r in enumerate(records, start=1)
    )
    sealed = SealedBatch(no, max(r.ts for r in rows) + timedelta(minutes=5), rows)
    item = build_item(sealed, BatchingPolicy(), site, 1, timedelta(days=30))
    assert item.data is not None
    store.put(item.key, item.data)
    lake.add_key("signals", item.key)
    return item.key


def _future_batch(store: PutStore, site: str, record: dict[str, Any], major: int) -> str:
    """A batch as an agent of a contract major this ingest has no reader for would send it."""
    ts = datetime.fromisoformat(record["ts"])
    header = BatchHeader(site=site, count=1, first_ts=ts, last_ts=ts, format="ndjson+gzip",
                         schema_version=major)
    raw = "".join(f"{encode_line(doc)}\n" for doc in (header.to_json(), record)).encode()
    key = object_key("signals", site, ts, hashlib.sha256(raw).hexdigest(), suffix=".ndjson.gz")
    store.put(key, compress(raw, "ndjson+gzip"))
    return key


def _alerts(store: PutStore, lake: RawLake, site: str, day_index: int, day: date) -> None:
    episodes = []
    if site == RISING[0] and day_index == 1:
        episodes.append((RISING[1], RISING[2], "stress_high", "warning", 10, 16))
    if site == "north":
        episodes.append(("cam-2", "-", "camera_fog", "info", 6, 8))
    for camera, zone, rule, severity, start, end in episodes:
        since = at(day, start)
        states: tuple[tuple[Literal["raised", "resolved"], datetime], ...] = (
            ("raised", since), ("resolved", at(day, end)))
        for state, when in states:
            alert = Alert(site=site, camera=camera, zone=zone, rule=rule, state=state,
                          severity=severity, what=f"{rule} on {zone}",
                          why={"value": 3.2, "threshold": 3.0}, at=when, since=since,
                          message=f"{rule} {state} on {camera}/{zone}")
            doc = alert.to_dict()
            if state == "raised":
                doc["evidence"] = _put(store, lake, "evidence", _jpeg(f"ev{site}{rule}{day}"),
                                       ".jpg", site, camera, when)
            _json(store, lake, "alert", doc, site, camera, when)
            lake.alerts.append({**doc, "site": site})


def _heartbeat(store: PutStore, lake: RawLake, site: str, when: datetime, day_index: int) -> None:
    started = at(when.date() - timedelta(days=day_index), 0) - timedelta(hours=1)
    clock: list[datetime] = [started]
    stats = AgentStats(lambda: clock[0])
    clock[0] = when
    system = SystemSnapshot(
        at=when, data_dir="/var/lib/fieldagent", disk_total_bytes=64_000_000_000,
        disk_free_bytes=30_000_000_000 - 1_000_000_000 * SITES.index(site),
        cpu_temp_c=50.0 + SITES.index(site), load_1m=0.5, load_5m=0.4, load_15m=0.3,
        rss_bytes=200_000_000, system_uptime_s=86400.0,
    )
    doc = build_heartbeat(when, site=site, device=f"{site}-edge", agent_version="0.1.0",
                          model_version=MODEL_VERSION, stats=stats.heartbeat_snapshot(),
                          outbox_stats=None, uplink_status=None, system=system,
                          alerts_active=0).to_json()
    _json(store, lake, "heartbeat", doc, site, None, when)
    lake.heartbeats.append(doc)


def _model_report(store: PutStore, lake: RawLake, site: str, when: datetime) -> None:
    doc = {"site": site, "at": when.isoformat(), "event": "installed", "version": "1.1.0",
           "reason": None}
    _json(store, lake, "model-report", doc, site, None, when)
    lake.model_reports.append(doc)


def _json(store: PutStore, lake: RawLake, kind: str, doc: dict[str, Any], site: str,
          camera: str | None, when: datetime) -> str:
    """As ``Offloader.put_json`` encodes and keys a document."""
    data = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":")).encode()
    return _put(store, lake, kind, data, ".json", site, camera, when)


def _put(store: PutStore, lake: RawLake, kind: str, data: bytes, suffix: str, site: str,
         camera: str | None, when: datetime) -> str:
    key = object_key(kind, site, when, hashlib.sha256(data).hexdigest(), suffix=suffix,
                     camera=camera)
    store.put(key, data)
    lake.add_key(kind, key)
    if kind in ("image", "evidence"):
        lake.images[key] = len(data)
    return key


def _jpeg(seed: str) -> bytes:
    """A small real JPEG, different per seed (so keys differ)."""
    shade = int(hashlib.sha256(seed.encode()).hexdigest()[:2], 16)
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (shade, 120, 60)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


# -- objects the ingest must set aside ------------------------------------------------------

def add_malformed(store: PutStore, site: str, day: date) -> dict[str, str]:
    """Three broken objects of ``site`` on ``day``; returns key -> a word their rejection
    reason must contain."""
    when = at(day, 13, 30)
    garbage = b"\x1f\x8b\x08\x00" + bytes(range(200))
    bad_gzip = object_key("signals", site, when, hashlib.sha256(garbage).hexdigest(),
                          suffix=".ndjson.gz")
    store.put(bad_gzip, garbage)
    record = {"type": "zone", "v": 1, "ts": when.isoformat(), "camera": "cam-1",
              "id": "bench-1", "trusted": True, "flags": [], "signals": {"stress_score": 9.0},
              "model": None}
    future = _future_batch(store, site, record, 7)
    not_alert = json.dumps({"hello": "world", "at": when.isoformat()}).encode()
    alert_key = object_key("alert", site, when, hashlib.sha256(not_alert).hexdigest(),
                           suffix=".json", camera="cam-1")
    store.put(alert_key, not_alert)
    return {bad_gzip: "not a readable signal batch", future: "schema_version 7",
            alert_key: "not an alert"}

