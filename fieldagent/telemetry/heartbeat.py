"""The heartbeat: one small JSON document the agent puts into its outbox every interval.

The cloud fleet job reads these to tell which devices are silent, behind, full, hot or on
which model, so the field names below are a contract: keep them stable, add new ones,
never rename; bump ``schema_version`` when a meaning changes. Every key is always present
(null or an empty map when a figure is unknown), so the cloud side never guesses whether
a key was forgotten or a figure was missing. Times are ISO-8601 UTC strings; durations
are seconds (``_s``), latencies milliseconds (``_ms``), sizes bytes. The cloud lake
flattens nested maps into columns (``outbox_items_by_kind_image``) and its fleet table
reads ``outbox_items``, ``outbox_oldest_age_s`` and ``disk_free_bytes`` as numbers: a
figure the fleet job compares is a scalar, its breakdown a separate ``_by_`` map.

Fields
------
``schema_version``            int, 1: the version of this document's layout
``kind``                      always ``"heartbeat"``
``site``                      site id
``device``                    device id (host name or the inventory name)
``at``                        when the heartbeat was built
``agent_version``             fieldagent version
``model_version``             version of the loaded stress model; null without a model
``started_at``                when the agent started
``uptime_s``                  seconds since the agent started
``system_uptime_s``           seconds since the device booted; null when unreadable
``interval_started_at``       start of the interval the ``*_interval`` fields count
``interval_s``                length of that interval (normally the heartbeat interval)
``images_total``              ``{camera: {status: n}}`` images handled since start (ok, rejected)
``images_interval``           the same, since the previous heartbeat
``rejected_total``            ``{reason: n}`` rejected images since start by reason
``camera_last_image_age_s``   ``{camera: s}`` seconds since each camera's last image
``quality_checked_interval``  analysed (status ok) images since the previous heartbeat
``quality_fail_rate``         ``{flag: fraction}`` of those images that raised each quality
                              flag; every flag is listed; null values when none was analysed
``quality_fail_total``        ``{flag: n}`` images that raised each flag since start
``latency_p50_ms``            median model stage time per image over the recent window
``latency_p95_ms``            95th percentile of the same; both null before the first run
``latency_samples``           model runs in the recent window
``latency_baseline_p95_ms``   p95 of the first runs after start or a model switch
                              (``telemetry.latency_baseline_runs``); null until they ran
``model_outputs_total``       model outputs (one per zone) since start
``drift_psi``                 confidence drift: population stability index of the recent
                              top-class probabilities against the reference (0 = same;
                              > 0.25 significant); null until both windows are full
``drift_reference_n``         outputs in the drift reference window
``drift_recent_n``            outputs in the recent window
``confidence_mean_reference`` mean top-class probability of the reference window
``confidence_mean_recent``    the same over the recent window
``entropy_mean_reference``    mean normalised entropy (0 sure .. 1 lost) of the reference
``entropy_mean_recent``       the same over the recent window
``outbox_items``              items waiting (ready or being sent), all kinds
``outbox_items_by_kind``      ``{kind: n}`` the same by kind
``outbox_bytes_by_kind``      ``{kind: bytes}`` payload bytes waiting by kind
``outbox_total_bytes``        payload bytes waiting, all kinds (what the caps apply to)
``outbox_oldest_age_s``       age of the oldest waiting item of any kind; null when empty
``outbox_disk_bytes``         what the outbox occupies on disk (database, WAL, spool)
``outbox_drops``              ``{reason: n}`` items that left without delivery, by reason
``outbox_last_success_at``    last delivery; null when none yet
``uplink_link_state``         circuit breaker: ``closed`` (link up), ``open``, ``half_open``
``uplink_down_since``         when the link went down; null while up
``uplink_rate_bytes_per_s``   measured upload rate; null until enough transfers
``uplink_degrade_level``      image offload degrade level (0 = full sampling)
``uplink_last_problem``       the last alert-worthy uplink problem, in words; null if none
``disk_total_bytes``          size of the data disk
``disk_free_bytes``           free bytes on the data disk
``disk_free_fraction``        free / total
``cpu_temp_c``                CPU temperature in deg C; null without a readable sensor
``load_1m``                   load average over 1 minute
``load_5m``                   load average over 5 minutes
``load_15m``                  load average over 15 minutes
``rss_bytes``                 resident memory of the agent process
``alerts_active``             alerts currently raised (grower and self-alerts)
``alerts_enabled``            false when the site config turned every alert off
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fieldagent.outbox.model import OutboxStats
from fieldagent.telemetry.stats import StatsSnapshot
from fieldagent.telemetry.system import SystemSnapshot

SCHEMA_VERSION = 1
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
) -> dict[str, Any]:
    """The heartbeat document (module docstring); JSON-serialisable as it is.

    ``stats`` should come from ``AgentStats.heartbeat_snapshot()`` so the ``*_interval``
    fields count from one heartbeat to the next. ``outbox_stats``/``uplink_status`` are
    None when that part is not running; their fields are then null or empty.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "heartbeat",
        "site": site,
        "device": device,
        "at": now.isoformat(),
        "agent_version": agent_version,
        "model_version": model_version,
        **_activity(now, stats),
        **_model(stats),
        **_outbox(outbox_stats),
        **_uplink(uplink_status),
        **_system(system),
        "alerts_active": alerts_active,
        "alerts_enabled": alerts_enabled,  # false: the site config turned alerts off
    }


def _activity(now: datetime, s: StatsSnapshot) -> dict[str, Any]:
    return {
        "started_at": s.started_at.isoformat(),
        "uptime_s": round((now - s.started_at).total_seconds(), 3),
        "interval_started_at": s.interval_started_at.isoformat(),
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
        "outbox_last_success_at": o.last_success_at.isoformat() if o.last_success_at else None,
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
        "uplink_down_since": _iso(link.get("down_since")),
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


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
