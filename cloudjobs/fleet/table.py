"""The fleet view: one row per device, worst first, each with a status and the reason for it.

Everything comes from what the devices uploaded: the newest heartbeat per device (last seen,
backlog, disk, versions), the newest model report per device (its rollout state; a report
without a device applies to every device of its site) and the site's alerts of the last day.
The "current" model is the version most devices run (ties: the newest), so a device is on an
old model when it runs anything older, and a staged rollout to a few devices flags nobody.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from packaging.version import InvalidVersion, Version

from cloudjobs.analysis.freshness import human_duration
from cloudjobs.analysis.lakeio import naive_utc
from cloudjobs.fleet.config import FleetConfig
from cloudjobs.lake.errors import LakeError
from cloudjobs.lake.location import Location
from cloudjobs.lake.reader import LakeReader, open_reader

TS = pa.timestamp("us", tz="UTC")
STATUS_ORDER = ("silent", "behind", "old model", "disk low", "ok")
HEARTBEAT_COLUMNS: Mapping[str, pa.DataType] = {
    "at": TS, "device": pa.string(), "agent_version": pa.string(),
    "model_version": pa.string(), "outbox_items": pa.float64(),
    "outbox_oldest_age_s": pa.float64(), "disk_free_bytes": pa.float64(),
}
REPORT_COLUMNS: Mapping[str, pa.DataType] = {
    "at": TS, "event": pa.string(), "version": pa.string(), "reason": pa.string(),
    "raw": pa.string(),
}


def fleet_table(
    lake: Location | LakeReader,
    now: datetime,
    *,
    config: FleetConfig | None = None,
    model_version: str | None = None,
) -> list[dict[str, Any]]:
    """Every site and device seen, silent first, then behind, old model, disk low, ok.

    ``model_version`` names the version every device should run; by default it is the one
    most devices run.
    """
    where, cfg = open_reader(lake), config or FleetConfig()
    first = (now - timedelta(days=cfg.lookback_days)).date()
    sites = where.sites(("heartbeats", "signals", "quality"))
    if not sites:
        raise LakeError(f"no site found under {where.dataset_dir('')} (heartbeats, signals, "
                        "quality): run `cloudjobs ingest` first, or check --lake")
    rows: list[dict[str, Any]] = []
    for site in sites:
        devices = _last_heartbeats(where.read("heartbeats", site, HEARTBEAT_COLUMNS,
                                              first, now.date()), now)
        reports = where.read("model_reports", site, REPORT_COLUMNS, first, now.date())
        alerts = _alerts_since(where, site, now - timedelta(hours=cfg.alerts_hours), now)
        for device in devices or [{"device": None, "last_seen": None}]:
            last = device["last_seen"]
            rows.append({"site": site, **device, **_rollout(reports, device["device"], now),
                         "age_s": None if last is None else (now - last).total_seconds(),
                         "alerts_raised": alerts})
    target = model_version or _fleet_model(rows)
    for row in rows:
        row["status"], row["reason"] = _judge(row, cfg, target)
        row["fleet_model_version"] = target
    rows.sort(key=lambda r: (STATUS_ORDER.index(r["status"]),
                             -r["age_s"] if r["age_s"] is not None else -float("inf"),
                             r["site"], r["device"] or ""))
    return [_ordered(r) for r in rows]


def _last_heartbeats(beats: pa.Table, now: datetime) -> list[dict[str, Any]]:
    """The newest heartbeat of each device, not after ``now``."""
    beats = beats.filter(pc.less_equal(beats.column("at"), pa.scalar(now, TS)))
    con = duckdb.connect(config={"threads": 1})
    con.register("hb", naive_utc(beats, "at"))
    cols = ("agent_version", "model_version", "outbox_items", "outbox_oldest_age_s",
            "disk_free_bytes")
    picks = ", ".join(f'arg_max({c}, "at") AS {c}' for c in cols)  # AT is an SQL keyword
    result = con.sql(f'SELECT device, max("at") AS last_seen, {picks} FROM hb '
                     "WHERE device IS NOT NULL GROUP BY device ORDER BY device")
    out = []
    for values in result.fetchall():
        row = dict(zip(result.columns, values, strict=True))
        row["last_seen"] = row["last_seen"].replace(tzinfo=UTC)
        out.append(row)
    return out


def _rollout(reports: pa.Table, device: str | None, now: datetime) -> dict[str, Any]:
    """The newest model report for this device, or for its whole site."""
    best: dict[str, Any] | None = None
    for r in reports.to_pylist():
        about = _device_of(r["raw"])
        if r["at"] is None or r["at"] > now or (about is not None and about != device):
            continue
        if best is None or r["at"] > best["at"]:
            best = r
    if best is None:
        return {"rollout_event": None, "rollout_version": None, "rollout_reason": None,
                "rollout_at": None}
    return {"rollout_event": best["event"], "rollout_version": best["version"],
            "rollout_reason": best["reason"] or None, "rollout_at": best["at"]}


def _device_of(raw: str | None) -> str | None:
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        return None
    device = doc.get("device") if isinstance(doc, dict) else None
    return str(device) if device is not None else None


def _alerts_since(lake: LakeReader, site: str, since: datetime, now: datetime) -> int:
    """Alerts raised at the site in ``(since, now]``."""
    alerts = lake.read("alerts", site, {"at": TS, "state": pa.string()}, since.date(),
                       now.date())
    at, state = alerts.column("at"), alerts.column("state")
    keep = pc.and_(pc.and_(pc.greater(at, pa.scalar(since, TS)),
                           pc.less_equal(at, pa.scalar(now, TS))),
                   pc.equal(state, "raised"))
    return int(pc.sum(pc.cast(pc.fill_null(keep, False), pa.int64())).as_py() or 0)


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _fleet_model(rows: list[dict[str, Any]]) -> str | None:
    """The model version most devices run; on a tie, the newest."""
    counts = Counter(r["model_version"] for r in rows if r.get("model_version"))
    if not counts:
        return None
    return max(counts, key=lambda v: (counts[v], _version(v) or Version("0")))


def _judge(
    row: Mapping[str, Any], cfg: FleetConfig, target: str | None
) -> tuple[str, str]:
    """Every problem of the device, worst first; the status is the worst one."""
    problems: list[tuple[str, str]] = []
    age = row["age_s"]
    if age is None:
        problems.append(("silent", f"no heartbeat in the last {cfg.lookback_days} days"))
    elif age > cfg.silent_after_minutes * 60:
        problems.append(("silent", f"no heartbeat for {human_duration(age)}"))
    backlog_age = row.get("outbox_oldest_age_s")
    if backlog_age is not None and backlog_age > cfg.behind_after_minutes * 60:
        items = row.get("outbox_items")
        problems.append(("behind", f"{'?' if items is None else int(items)} items waiting, "
                                   f"oldest {human_duration(backlog_age)}"))
    running, wanted = _version(row.get("model_version")), _version(target)
    if running is not None and wanted is not None and running < wanted:
        text = f"runs model {row['model_version']}, the fleet runs {target}"
        if row.get("rollout_event") in ("rolled_back", "refused"):
            text += (f"; {row['rollout_event']} {row['rollout_version']}"
                     f"{': ' + row['rollout_reason'] if row.get('rollout_reason') else ''}")
        problems.append(("old model", text))
    disk = row.get("disk_free_bytes")
    if disk is not None and disk < cfg.disk_low_gb * 1e9:
        problems.append(("disk low", f"{disk / 1e9:.2f} GB free"))
    problems.sort(key=lambda p: STATUS_ORDER.index(p[0]))
    return (problems[0][0], "; ".join(p[1] for p in problems)) if problems else ("ok", "")


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    """The columns in the order a fleet admin reads them."""
    return {
        "site": row["site"], "device": row["device"], "status": row["status"],
        "reason": row["reason"], "last_seen": row["last_seen"], "age_s": row["age_s"],
        "backlog_items": _int(row.get("outbox_items")),
        "backlog_age_s": row.get("outbox_oldest_age_s"),
        "disk_free_bytes": _int(row.get("disk_free_bytes")),
        "agent_version": row.get("agent_version"), "model_version": row.get("model_version"),
        "fleet_model_version": row["fleet_model_version"],
        "rollout_event": row["rollout_event"], "rollout_version": row["rollout_version"],
        "rollout_reason": row["rollout_reason"], "rollout_at": row["rollout_at"],
        "alerts_raised": row["alerts_raised"],
    }


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
