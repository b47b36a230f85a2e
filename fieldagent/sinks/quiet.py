"""Quiet hours: when a non-urgent alert raised at night may reach the grower's phone.

Windows are site-local wall-clock times (``zoneinfo``), so "22:00-06:00" stays 22:00-06:00
across daylight-saving changes. A window ending at a wall time that does not exist on a
spring-forward night ends at the same instant one hour later, as ``zoneinfo`` maps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fieldagent.sinks.config import QuietWindow


def quiet_until(now: datetime, windows: Sequence[QuietWindow], zone: ZoneInfo) -> datetime | None:
    """End (UTC) of the quiet period ``now`` falls in, or None when it is not quiet.

    Touching windows chain ("22:00-00:00" and "00:00-06:00" end at 06:00).
    """
    end: datetime | None = None
    probe = now
    for _ in range(len(windows) + 1):  # each step moves to a later window end; bounded
        local = probe.astimezone(zone)
        ends = [_window_end(local, w, zone) for w in windows if w.contains(local.time())]
        if not ends:
            break
        end = max(ends)
        probe = end
    return None if end is None else end.astimezone(UTC)


def _window_end(local: datetime, window: QuietWindow, zone: ZoneInfo) -> datetime:
    day = local.date()
    if window.wraps and local.time() >= window.start:
        day += timedelta(days=1)
    return datetime.combine(day, window.end, tzinfo=zone)
