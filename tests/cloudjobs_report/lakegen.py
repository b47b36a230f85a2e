"""A small curated lake, written with pyarrow per the lake contract, with planted effects.

Three sites over ten days. Planted: site ``b`` zone ``B-3`` of ``cam1`` yellows (stress
climbs from ~0.5 to ~5.5, yellow share up, greenness down); camera ``cam2`` of site ``a``
fogs from day 6 (most of its images fail ``fog``); site ``b``'s only device falls silent
after day 4. Noise the report must ignore: untrusted readings with absurd values, NaN
stress readings, and the first days' signal files lack the ``gcc`` column (an older
agent). Every row is returned too, so tests compute expected values independently.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

START = date(2025, 3, 1)
DAYS = 10
NOW = datetime(2025, 3, 10, 19, 30, tzinfo=UTC)
PLANTED = ("b", "cam1", "B-3")
FOGGY = ("a", "cam2")
ZONES = {
    "a": {"cam1": ["B-1", "B-2", "B-3", "B-4"], "cam2": ["tray-left"]},
    "b": {"cam1": ["B-1", "B-2", "B-3", "B-4"]},
    "c": {"cam1": ["B-1", "B-2"]},
}
TS = pa.timestamp("us", tz="UTC")
WHAT = {"dry": 'soil "dry" <b>& hot</b>'}  # text written by people: must come out escaped


@dataclass
class Lake:
    """Where the lake was written and the rows in it."""

    root: Path
    signals: list[dict[str, Any]] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)


def _write(root: Path, dataset: str, site: str, day: date, rows: list[dict[str, Any]],
           schema: pa.Schema) -> None:  # fmt: skip
    folder = root / "curated" / dataset / f"site={site}" / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    cols = {n: [r.get(n) for r in rows] for n in schema.names}
    pq.write_table(pa.table(cols, schema=schema), folder / "part-0001.parquet")


def _signal_schema(with_gcc: bool) -> pa.Schema:
    fields = [("ts", TS), ("camera", pa.string()), ("zone", pa.string()),
              ("trusted", pa.bool_()), ("flags", pa.list_(pa.string())),
              ("stress_score", pa.float64()), ("yellow_fraction", pa.float64())]  # fmt: skip
    if with_gcc:
        fields.append(("gcc", pa.float64()))
    fields += [("model_label", pa.string()), ("model_version", pa.string()),
               ("batch_key", pa.string())]  # fmt: skip
    return pa.schema(fields)


QUALITY_SCHEMA = pa.schema(
    [("ts", TS), ("camera", pa.string()), ("status", pa.string()), ("reason", pa.string()),
     ("ok", pa.bool_()), ("flags", pa.list_(pa.string())), ("q_blur", pa.float64()),
     ("batch_key", pa.string())]
)  # fmt: skip
ALERT_SCHEMA = pa.schema(
    [("at", TS), ("since", TS), ("camera", pa.string()), ("zone", pa.string()),
     ("rule", pa.string()), ("state", pa.string()), ("severity", pa.string()),
     ("what", pa.string()), ("message", pa.string()), ("episode", pa.string()),
     ("evidence_key", pa.string()), ("why", pa.string()), ("object_key", pa.string())]
)  # fmt: skip
HEARTBEAT_SCHEMA = pa.schema(
    [("at", TS), ("device", pa.string()), ("agent_version", pa.string()),
     ("model_version", pa.string()), ("uptime_s", pa.float64()), ("outbox_items", pa.float64()),
     ("outbox_oldest_age_s", pa.float64()), ("raw", pa.string()), ("object_key", pa.string())]
)  # fmt: skip


def _reading(rng: random.Random, site: str, camera: str, zone: str, d: int) -> dict[str, float]:
    if (site, camera, zone) == PLANTED:
        progress = d / (DAYS - 1)
        return {"stress_score": 0.5 + 5.0 * progress + rng.gauss(0, 0.2),
                "yellow_fraction": 0.05 + 0.35 * progress + rng.gauss(0, 0.01),
                "gcc": 0.42 - 0.08 * progress + rng.gauss(0, 0.004)}  # fmt: skip
    return {"stress_score": abs(rng.gauss(0.6, 0.3)), "yellow_fraction": abs(rng.gauss(0.05, 0.01)),
            "gcc": rng.gauss(0.42, 0.005)}  # fmt: skip


def _signals_day(rng: random.Random, site: str, d: int) -> list[dict[str, Any]]:
    day = START + timedelta(days=d)
    rows = []
    for camera, zones in ZONES[site].items():
        for zone in zones:
            for hour in range(8, 14):
                row: dict[str, Any] = {
                    "ts": datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
                    "camera": camera, "zone": zone, "trusted": True, "flags": [],
                    "model_label": "healthy", "model_version": "stress-1",
                    "batch_key": f"raw/signals/site={site}/x", "site": site, "date": day,
                    **_reading(rng, site, camera, zone, d),
                }  # fmt: skip
                if hour == 9:  # a reading from a fogged image: must not count
                    row.update(trusted=False, stress_score=50.0, yellow_fraction=0.9, gcc=0.1)
                if hour == 10 and d % 3 == 0:
                    row["stress_score"] = math.nan
                rows.append(row)
    return rows


def _quality_day(rng: random.Random, site: str, d: int) -> list[dict[str, Any]]:
    day = START + timedelta(days=d)
    rows = []
    for camera in ZONES[site]:
        foggy = (site, camera) == FOGGY and d >= 5
        for i in range(24):
            ts = datetime(day.year, day.month, day.day, i, tzinfo=UTC)
            row: dict[str, Any] = {"ts": ts, "camera": camera, "status": "ok", "ok": True,
                                   "flags": [], "q_blur": rng.random(), "site": site, "date": day,
                                   "batch_key": "k"}  # fmt: skip
            if foggy and i < 16:
                row.update(ok=False, flags=["fog", "blur"] if i % 2 else ["fog"])
            elif i == 23 and d % 2 == 0:
                row.update(status="rejected", reason="truncated", ok=None, flags=None)
            elif i == 22 and d % 4 == 0:
                row.update(ok=False, flags=["dark"])
            rows.append(row)
    return rows


def _alert(site: str, camera: str, zone: str, rule: str, state: str, severity: str,
           at: datetime, since: datetime) -> dict[str, Any]:  # fmt: skip
    key = f"{site}/{camera}/{zone}/{rule}/{since.isoformat()}"
    return {"at": at, "since": since, "camera": camera, "zone": zone, "rule": rule,
            "state": state, "severity": severity, "what": WHAT.get(rule, f"{rule} on {zone}"),
            "message": f"[{severity.upper()}] {site}: camera {camera}, zone {zone}: {rule}",
            "episode": key, "why": json.dumps({"value": 1.0}), "object_key": "raw/alert/x",
            "site": site, "date": at.date()}  # fmt: skip


def _alerts() -> list[dict[str, Any]]:
    def t(d: int, h: int) -> datetime:
        day = START + timedelta(days=d)
        return datetime(day.year, day.month, day.day, h, tzinfo=UTC)

    return [
        _alert("b", "cam1", "B-3", "yellowing", "raised", "warning", t(5, 11), t(5, 9)),
        _alert("a", "cam2", "-", "fogged-lens", "raised", "critical", t(5, 3), t(5, 1)),
        _alert("a", "cam2", "-", "fogged-lens", "resolved", "critical", t(7, 15), t(5, 1)),
        _alert("c", "cam1", "B-1", "dry", "raised", "info", t(2, 10), t(2, 9)),
        _alert("c", "cam1", "B-1", "dry", "resolved", "info", t(3, 10), t(2, 9)),
    ]


def _heartbeats(site: str, d: int) -> list[dict[str, Any]]:
    if site == "b" and d > 3:
        return []
    day = START + timedelta(days=d)
    return [
        {"at": datetime(day.year, day.month, day.day, h, tzinfo=UTC), "device": f"{site}-dev1",
         "agent_version": "0.1.0", "model_version": f"stress-{1 + d // 5}", "uptime_s": 3600.0,
         "outbox_items": float(d * 10 + h), "outbox_oldest_age_s": 120.0, "raw": "{}",
         "object_key": "raw/heartbeat/x", "site": site, "date": day}
        for h in (0, 6, 12, 18)
    ]  # fmt: skip


def build_lake(root: Path, *, seed: int = 7) -> Lake:
    """Write the lake under ``root`` (``root/curated/...``) and return its rows."""
    rng = random.Random(seed)
    lake = Lake(root)
    for site in ZONES:
        for d in range(DAYS):
            day = START + timedelta(days=d)
            sig = _signals_day(rng, site, d)
            _write(root, "signals", site, day, sig, _signal_schema(with_gcc=d >= 3))
            lake.signals += [r if d >= 3 else {**r, "gcc": None} for r in sig]
            q = _quality_day(rng, site, d)
            _write(root, "quality", site, day, q, QUALITY_SCHEMA)
            lake.quality += q
            if hb := _heartbeats(site, d):
                _write(root, "heartbeats", site, day, hb, HEARTBEAT_SCHEMA)
    by_partition: dict[tuple[str, date], list[dict[str, Any]]] = {}
    for a in _alerts():
        by_partition.setdefault((a["site"], a["date"]), []).append(a)
    for (site, day), rows in by_partition.items():
        _write(root, "alerts", site, day, rows, ALERT_SCHEMA)
    return lake
