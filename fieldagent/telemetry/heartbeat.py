"""The heartbeat: one small JSON document the agent puts into its outbox every interval.

What each field means, its unit and the rules for changing them are the contract's
(``fieldcontract.records.heartbeat``): the cloud fleet job reads these to tell which devices
are silent, behind, full, hot or on which model. This module gathers the figures from the
agent's parts (stats, outbox, uplink, system) into a ``Heartbeat``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fieldagent.outbox.model import OutboxStats
from fieldagent.telemetry.stats import StatsSnapshot
from fieldagent.telemetry.system import SystemSnapshot
from fieldcontract.records import Heartbeat

WAITING = ("ready", "leased")  # states of an item not delivered yet


def build_heartbeat(
    now: datetime,
    *,
    site: str,
    device: str,
    agent_version: str,
    model_version: str | None,
    stats: StatsSnapshot,
    outbox_stats: OutboxStats | None,
    uplink_status: Mapping[str, Any] | None,
    system: SystemSnapshot,
    alerts_active: int,
    alerts_enabled: bool = True,
) -> Heartbeat:
    """The heartbeat (``Heartbeat.to_json()`` is the document that is uploaded).

    ``stats`` should come from ``AgentStats.heartbeat_snapshot()`` so the ``*_interval``
    fields count from one heartbeat to the next. ``outbox_stats``/``uplink_status`` are
    None when that part is not running; their fields are then null or empty.
    """
    return Heartbeat(
        site=site,
        device=device,
        at=now,
        agent_version=agent_version,
        model_version=model_version,
        **_activity(now, stats),
        **_model(stats),
        **_outbox(outbox_stats),
        **_uplink(uplink_status),
        **_system(system),
        alerts_active=alerts_active,
        alerts_enabled=alerts_enabled,  # false: the site config turned alerts off
    )


def _activity(now: datetime, s: StatsSnapshot) -> dict[str, Any]:
    return {
        "started_at": s.started_at,
        "uptime_s": round((now - s.started_at).total_seconds(), 3),
        "interval_started_at": s.interval_started_at,
        "interval_s": round((s.at - s.interval_started_at).total_seconds(), 3),
        "images_total": s.images_total,
        "images_interval": s.images_interval,
        "rejected_total": s.rejected_total,
        "camera_last_image_age_s": {
            cam: round((now - at).total_seconds(), 3) for cam, at in s.last_image_at.items()
        },
        "quality_checked_interval": s.quality_checked_interval,
        "quality_fail_rate": {k: _r(v) for k, v in s.quality_fail_rates().items()},
        "quality_fail_total": s.quality_flags_total,
    }


def _model(s: StatsSnapshot) -> dict[str, Any]:
    lat, drift = s.latency, s.drift
    return {
        "latency_p50_ms": _r(lat.p50_ms),
        "latency_p95_ms": _r(lat.p95_ms),
        "latency_samples": lat.samples,
        "latency_baseline_p95_ms": _r(lat.baseline_p95_ms),
        "model_outputs_total": s.model_outputs_total,
        "drift_psi": _r(drift.psi),
        "drift_reference_n": drift.reference_n,
        "drift_recent_n": drift.recent_n,
        "confidence_mean_reference": _r(drift.confidence_mean_reference),
        "confidence_mean_recent": _r(drift.confidence_mean_recent),
        "entropy_mean_reference": _r(drift.entropy_mean_reference),
        "entropy_mean_recent": _r(drift.entropy_mean_recent),
    }


def _outbox(o: OutboxStats | None) -> dict[str, Any]:
    if o is None:
        return {"outbox_items": None, "outbox_items_by_kind": {}, "outbox_bytes_by_kind": {},
                "outbox_total_bytes": None,
                "outbox_oldest_age_s": None, "outbox_disk_bytes": None, "outbox_drops": {},
                "outbox_last_success_at": None}
    return {
        "outbox_items": sum(waiting(o, "items").values()),
        "outbox_items_by_kind": waiting(o, "items"),
        "outbox_bytes_by_kind": waiting(o, "bytes"),
        "outbox_total_bytes": o.total_bytes,
        "outbox_oldest_age_s": _r(o.oldest_ready_age_s),
        "outbox_disk_bytes": o.disk_bytes,
        "outbox_drops": dict(o.drops),
        "outbox_last_success_at": o.last_success_at,
    }


def waiting(o: OutboxStats, what: str) -> dict[str, int]:
    """``{kind: items or bytes}`` not delivered yet (ready + leased)."""
    return {
        kind: sum(states.get(s, {}).get(what, 0) for s in WAITING)
        for kind, states in o.by_kind_state.items()
    }


def _uplink(u: Mapping[str, Any] | None) -> dict[str, Any]:
    u = u or {}
    link = u.get("link") or {}
    problem = u.get("last_problem") or {}
    degrade = u.get("degrade") or {}
    return {
        "uplink_link_state": link.get("state"),
        "uplink_down_since": _time(link.get("down_since")),
        "uplink_rate_bytes_per_s": _r(u.get("rate_bytes_per_s")),
        "uplink_degrade_level": degrade.get("level"),
        "uplink_last_problem": problem.get("message"),
    }


def _system(s: SystemSnapshot) -> dict[str, Any]:
    return {
        "system_uptime_s": _r(s.system_uptime_s),
        "disk_total_bytes": s.disk_total_bytes,
        "disk_free_bytes": s.disk_free_bytes,
        "disk_free_fraction": _r(s.disk_free_fraction),
        "cpu_temp_c": _r(s.cpu_temp_c),
        "load_1m": _r(s.load_1m),
        "load_5m": _r(s.load_5m),
        "load_15m": _r(s.load_15m),
        "rss_bytes": s.rss_bytes,
    }


def _r(value: float | None, digits: int = 4) -> float | None:
    """Rounded for a compact document; these figures carry no more precision."""
    return None if value is None else round(float(value), digits)


def _time(value: Any) -> datetime | None:
    """A time from the uplink status (a ``datetime``, or its ISO text read from a file)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
