"""A small multi-site curated lake, written with pyarrow per the lake contract, with KNOWN effects.

Four sites (north, south, east, west), two cameras each, two zones per camera, 28 days of
hourly images (the random-failure camera every 15 minutes), heartbeats every 30 minutes,
model reports and alerts. Planted:

* north/cam1/bench-a yellows from the window's first day: stress +0.25/day, yellow +0.01/day,
  gcc -0.004/day; every other zone drifts by a small random amount (flat).
* west/cam1/bench-a has ONE outlier day (the day before ``until``): stress 6, yellow 0.4.
* south/cam1 fogs at 06:00-08:00 UTC (images at 06:05 and 07:05 flagged ``fog``, not ok) on
  every day except one of the last seven.
* south/cam2 (every 15 min) fails ``blur`` at random with probability 0.1.
* east sends nothing (signals, quality, heartbeats) for the last 2 days.
* west's first 3 days come from an older agent whose files lack the ``gcc`` column.
* devices: west-2 runs the old model (and rolled back the new one), south-1 has a 3 h
  backlog, north-1 is low on disk; the others are fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TS = pa.timestamp("us", tz="UTC")
SITES = ("north", "south", "east", "west")
CAMERAS = ("cam1", "cam2")
ZONES = ("bench-a", "bench-b")
NEW_MODEL, OLD_MODEL = "0.2.0", "0.1.0+synth.a3a67ad9"
GIB = 1 << 30


@dataclass(frozen=True)
class Planted:
    """What the builder put in, for tests to check findings against."""

    root: Path
    since: date  # first day of the analysis window (14 days)
    until: date
    now: datetime
    first_day: date  # first day of data (history starts here)
    yellowing: tuple[str, str, str] = ("north", "cam1", "bench-a")
    outlier_zone: tuple[str, str, str] = ("west", "cam1", "bench-a")
    fog_camera: tuple[str, str] = ("south", "cam1")
    fog_hours: tuple[int, ...] = (6, 7)
    fog_days_in_last_week: int = 6
    random_camera: tuple[str, str] = ("south", "cam2")
    silent_site: str = "east"
    silent_days: int = 2
    devices: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        "north": ("north-1",), "south": ("south-1",), "east": ("east-1",),
        "west": ("west-1", "west-2")})
    old_model_device: tuple[str, str] = ("west", "west-2")
    behind_device: tuple[str, str] = ("south", "south-1")
    disk_low_device: tuple[str, str] = ("north", "north-1")

    @property
    def outlier_day(self) -> date:
        return self.until - timedelta(days=1)

    def last_data_day(self, site: str) -> date:
        return self.until - timedelta(days=self.silent_days) if site == self.silent_site \
            else self.until


def build_lake(root: Path, *, days: int = 28, window_days: int = 14, seed: int = 7) -> Planted:
    """Write the curated datasets under ``root/curated`` and say what was planted."""
    until = date(2024, 6, 28)
    first = until - timedelta(days=days - 1)
    planted = Planted(root=root, since=until - timedelta(days=window_days - 1), until=until,
                      now=datetime.combine(until, time(23, 50), UTC), first_day=first)
    drift = np.random.default_rng(seed).normal(0.0, 0.005, size=(len(SITES), 4))
    for s, site in enumerate(SITES):
        for d in range(days):
            day = first + timedelta(days=d)
            if day > planted.last_data_day(site):
                continue
            rng = np.random.default_rng([seed, s, d])
            images, zones = _day_rows(planted, site, day, rng, drift[s])
            if site == "west" and d < 3:
                zones = zones.drop_columns(["gcc"])
            _write(root, "quality", site, day, images)
            _write(root, "signals", site, day, zones)
            _write(root, "heartbeats", site, day, _heartbeats(planted, site, day))
    _write_events(root, planted)
    return planted


def _stamps(day: date, every_min: int) -> list[datetime]:
    start = datetime.combine(day, time(0, 5), UTC)
    return [start + timedelta(minutes=m) for m in range(0, 24 * 60, every_min)]


def _day_rows(
    p: Planted, site: str, day: date, rng: np.random.Generator, drift: np.ndarray
) -> tuple[pa.Table, pa.Table]:
    img: dict[str, list[Any]] = {k: [] for k in ("ts", "camera", "ok", "flags")}
    zon: dict[str, list[Any]] = {k: [] for k in ("ts", "camera", "zone", "trusted",
                                                 "stress_score", "yellow_fraction", "gcc")}
    in_window = max(0, (day - p.since).days)
    for c, camera in enumerate(CAMERAS):
        every = 15 if (site, camera) == p.random_camera else 60
        for ts in _stamps(day, every):
            flags: list[str] = []
            if (site, camera) == p.fog_camera and ts.hour in p.fog_hours and (
                (p.until - day).days != 3  # the one clear morning of the last week
            ):
                flags = ["fog"]
            if (site, camera) == p.random_camera and rng.random() < 0.1:
                flags = ["blur"]
            img["ts"].append(ts)
            img["camera"].append(camera)
            img["ok"].append(not flags)
            img["flags"].append(flags)
            for z, zone in enumerate(ZONES):
                key = (site, camera, zone)
                age = (day - p.first_day).days
                stress = 0.5 + drift[2 * c + z] * age + rng.normal(0, 0.3)
                yellow = 0.05 + drift[2 * c + z] * 0.02 * age + rng.normal(0, 0.01)
                gcc = 0.38 + rng.normal(0, 0.005)
                if key == p.yellowing:
                    stress += 0.25 * in_window
                    yellow += 0.01 * in_window
                    gcc -= 0.004 * in_window
                if key == p.outlier_zone and day == p.outlier_day:
                    stress, yellow = 6.0, 0.4
                zon["ts"].append(ts)
                zon["camera"].append(camera)
                zon["zone"].append(zone)
                zon["trusted"].append(not flags)
                zon["stress_score"].append(max(0.0, stress))
                zon["yellow_fraction"].append(min(1.0, max(0.0, yellow)))
                zon["gcc"].append(gcc)
    return _quality_table(img), _signals_table(zon)


def _quality_table(img: dict[str, list[Any]]) -> pa.Table:
    n = len(img["ts"])
    return pa.table({
        "ts": pa.array(img["ts"], TS),
        "camera": pa.array(img["camera"], pa.string()),
        "status": pa.array(["ok"] * n, pa.string()),
        "reason": pa.nulls(n, pa.string()),
        "ok": pa.array(img["ok"], pa.bool_()),
        "flags": pa.array(img["flags"], pa.list_(pa.string())),
        "q_blur_effect": pa.array([0.3] * n, pa.float64()),
        "shift_x": pa.array([0.0] * n, pa.float64()),
        "shift_y": pa.array([0.0] * n, pa.float64()),
        "width": pa.array([1024] * n, pa.int64()),
        "height": pa.array([768] * n, pa.int64()),
        "sample_key": pa.nulls(n, pa.string()),
        "sample_reason": pa.nulls(n, pa.string()),
        "batch_key": pa.array(["raw/signals/batch.ndjson.gz"] * n, pa.string()),
    })


def _signals_table(zon: dict[str, list[Any]]) -> pa.Table:
    n = len(zon["ts"])
    return pa.table({
        "ts": pa.array(zon["ts"], TS),
        "camera": pa.array(zon["camera"], pa.string()),
        "zone": pa.array(zon["zone"], pa.string()),
        "trusted": pa.array(zon["trusted"], pa.bool_()),
        "flags": pa.array([[] for _ in range(n)], pa.list_(pa.string())),
        "canopy_cover": pa.array([0.6] * n, pa.float64()),
        "gcc": pa.array(zon["gcc"], pa.float64()),
        "yellow_fraction": pa.array(zon["yellow_fraction"], pa.float64()),
        "stress_score": pa.array(zon["stress_score"], pa.float64()),
        "model_label": pa.array(["healthy"] * n, pa.string()),
        "model_confidence": pa.array([0.9] * n, pa.float64()),
        "model_entropy": pa.array([0.1] * n, pa.float64()),
        "model_version": pa.array([NEW_MODEL] * n, pa.string()),
        "batch_key": pa.array(["raw/signals/batch.ndjson.gz"] * n, pa.string()),
    })


def _heartbeats(p: Planted, site: str, day: date) -> pa.Table:
    rows = []
    for device in p.devices[site]:
        for ts in _stamps(day, 30):
            at = ts - timedelta(minutes=5)
            backlog_age = 3 * 3600.0 if (site, device) == p.behind_device else 40.0
            doc = {
                "site": site, "device": device, "at": at.isoformat(),
                "agent_version": "0.1.0",
                "model_version": OLD_MODEL if (site, device) == p.old_model_device else NEW_MODEL,
                "uptime_s": 3600.0,
                "outbox_items": 5000.0 if (site, device) == p.behind_device else 3.0,
                "outbox_oldest_age_s": backlog_age,
                "disk_free_bytes": float(GIB // 5 if (site, device) == p.disk_low_device
                                         else 20 * GIB),
            }
            rows.append({**doc, "at": at, "raw": json.dumps(doc), "object_key": "raw/heartbeat/x"})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("at", TS), ("device", pa.string()), ("agent_version", pa.string()),
        ("model_version", pa.string()), ("uptime_s", pa.float64()),
        ("outbox_items", pa.float64()), ("outbox_oldest_age_s", pa.float64()),
        ("disk_free_bytes", pa.float64()), ("raw", pa.string()), ("object_key", pa.string()),
    ]))


def _write_events(root: Path, p: Planted) -> None:
    """Model reports (install, then commit or roll back) and a few alerts."""
    installed = datetime.combine(p.until - timedelta(days=10), time(12), UTC)
    for site, devices in p.devices.items():
        rows = []
        for device in devices:
            rolled_back = (site, device) == p.old_model_device
            for event, at in (("installed", installed),
                              ("rolled_back" if rolled_back else "committed",
                               installed + timedelta(hours=1))):
                doc = {"site": site, "device": device, "at": at.isoformat(), "event": event,
                       "version": NEW_MODEL,
                       "reason": "golden vectors differ" if event == "rolled_back" else ""}
                rows.append({"at": at, "event": event, "version": NEW_MODEL,
                             "reason": doc["reason"], "raw": json.dumps(doc),
                             "object_key": f"raw/model-report/{site}/{device}/{event}"})
        _write(root, "model_reports", site, installed.date(), pa.Table.from_pylist(
            rows, schema=pa.schema([("at", TS), ("event", pa.string()), ("version", pa.string()),
                                    ("reason", pa.string()), ("raw", pa.string()),
                                    ("object_key", pa.string())])))
    day_before = p.now - timedelta(hours=30)
    alerts = [  # two raised and one resolved within the last day at north, one older
        (p.now - timedelta(hours=5), "raised"), (p.now - timedelta(hours=3), "raised"),
        (p.now - timedelta(hours=1), "resolved"), (day_before, "raised"),
    ]
    for at, state in alerts:
        _write(root, "alerts", "north", at.date(), pa.Table.from_pylist(
            [{"at": at, "since": at, "camera": "cam1", "zone": "bench-a", "rule": "stress",
              "state": state, "severity": "warning", "what": "stress", "message": "m",
              "episode": "e1", "evidence_key": None, "why": "{}", "object_key": "k"}],
            schema=pa.schema([("at", TS), ("since", TS), ("camera", pa.string()),
                              ("zone", pa.string()), ("rule", pa.string()),
                              ("state", pa.string()), ("severity", pa.string()),
                              ("what", pa.string()), ("message", pa.string()),
                              ("episode", pa.string()), ("evidence_key", pa.string()),
                              ("why", pa.string()), ("object_key", pa.string())])),
            name=f"part-{at:%H%M%S}.parquet")


def _write(root: Path, dataset: str, site: str, day: date, table: pa.Table,
           name: str = "part-0.parquet") -> None:
    folder = root / "curated" / dataset / f"site={site}" / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)
