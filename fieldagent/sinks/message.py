"""The words the grower reads, shared by every sink kind (webhook, Slack, ntfy, e-mail).

One short line says how loud, where, what, the measured evidence and since when::

    ⚠ warning — greenhouse-12 cam1 zone B-2: a large share of the leaf area has turned
    yellow (yellow fraction 0.213 > 0.15, since 10:05)

and a resolved alert says what cleared, since when and how long it lasted. Times are the
site's wall-clock time: the grower is there, not in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fieldagent.alerts.rules import CAMERA_LEVEL, Alert

SYMBOL = {"info": "ℹ", "warning": "⚠", "critical": "🚨"}
RESOLVED_SYMBOL = "✅"


def place(alert: Alert) -> str:
    """``greenhouse-12 cam1 zone B-2``, or ``greenhouse-12 cam1`` for camera-level alerts."""
    where = f"{alert.site} {alert.camera}"
    return where if alert.zone == CAMERA_LEVEL else f"{where} zone {alert.zone}"


def title(alert: Alert, *, symbol: bool = True) -> str:
    """Short heading (push title, e-mail subject): how loud and where.

    ``symbol=False`` leaves out the emoji, for receivers that show their own (ntfy tags).
    """
    if alert.state == "resolved":
        head = "resolved"
        mark = RESOLVED_SYMBOL
    else:
        head, mark = alert.severity, SYMBOL.get(alert.severity, "")
    return f"{mark} {head} — {place(alert)}" if symbol else f"{head} — {place(alert)}"


def body(alert: Alert, zone: ZoneInfo, now: datetime | None = None) -> str:
    """What, the evidence in numbers, since when (and for a resolved alert, how long).

    ``now`` is when the grower reads it (default: the alert's time): an alert held through
    quiet hours says "since 1 Jun 22:30", not a bare "22:30" that reads as today.
    """
    since = clock_time(alert.since, now or alert.at, zone)
    if alert.state == "resolved":
        lasted = duration(alert.at - alert.since)
        return (
            f"{alert.what} — over after {lasted} "
            f"(since {since}; {evidence(alert.why, 'resolved')})"
        )
    return f"{alert.what} ({evidence(alert.why, 'raised')}, since {since})"


def text(alert: Alert, zone: ZoneInfo, now: datetime | None = None) -> str:
    """The one-line message: heading, then the body."""
    return f"{title(alert)}: {body(alert, zone, now)}"


def details(
    alert: Alert, zone: ZoneInfo, evidence_key: str | None, attached: bool,
    now: datetime | None = None,
) -> str:
    """The message followed by the full record, for e-mail bodies."""
    why = ", ".join(f"{k} = {_num(v)}" for k, v in alert.why.items())
    lines = [
        text(alert, zone, now),
        "",
        f"Site: {alert.site}",
        f"Camera: {alert.camera}",
        f"Zone: {'(whole camera)' if alert.zone == CAMERA_LEVEL else alert.zone}",
        f"Rule: {alert.rule} ({alert.severity})",
        f"Since: {_local(alert.since, zone)}",
        f"{'Resolved' if alert.state == 'resolved' else 'Raised'}: {_local(alert.at, zone)}",
        f"Measured: {why}",
        f"Evidence image: {'attached' if attached else 'not attached'}"
        + (f" (cloud copy: {evidence_key})" if evidence_key else ""),
        f"Alert id: {alert.key}",
    ]
    return "\n".join(lines) + "\n"


def evidence(why: Mapping[str, float | str], state: str) -> str:
    """The measured reason in words: ``yellow fraction 0.213 > 0.15``, ``fog for 3 images``."""
    if "flag" in why:
        if state == "resolved":
            return f"{why['flag']} cleared"
        images = why.get("images")
        return f"{why['flag']} for {_num(images)} images" if images else str(why["flag"])
    if {"signal", "value", "op", "threshold"} <= why.keys():
        name = str(why["signal"]).replace("_", " ")
        if state == "resolved":
            return f"{name} now {_num(why['value'])}"
        return f"{name} {_num(why['value'])} {why['op']} {_num(why['threshold'])}"
    return ", ".join(f"{k} {_num(v)}" for k, v in why.items())


def clock_time(when: datetime, now: datetime, zone: ZoneInfo) -> str:
    """``10:05`` when ``when`` is on the same local day as ``now``, else ``3 Jun 10:05``."""
    local, ref = when.astimezone(zone), now.astimezone(zone)
    if local.date() == ref.date():
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def duration(span: timedelta) -> str:
    """``under a minute``, ``25 min``, ``2 h 15 min``, ``3 days 4 h``."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def _local(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
