"""The report's opening lines: what needs attention, in plain words, most urgent first.

Written for agronomists who never saw the code: zones by name and site, numbers with one
decimal, dates as "06 Mar", durations in hours or days. Plain text; the HTML escapes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from cloudjobs.report.data import Attention, Device, Episode, QualityDay, ReportData

NAMED = 5  # items named in one sentence; the rest are counted
FAILING_SHARE = 0.25  # a camera failing this share of its latest day's images is mentioned


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 zone``, ``3 zones``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def ago(delta: timedelta) -> str:
    """A duration as a person says it: 45 minutes, 5 hours, 3 days."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return plural(minutes, "minute")
    if minutes < 48 * 60:
        return plural(minutes // 60, "hour")
    return plural(minutes // (24 * 60), "day")


def when(at: datetime) -> str:
    """A timestamp for people: ``06 Mar 11:00 UTC``."""
    return f"{at:%d %b %H:%M} UTC"


def _listed(items: Sequence[str]) -> str:
    shown = "; ".join(items[:NAMED])
    return shown + (f"; and {len(items) - NAMED} more" if len(items) > NAMED else "")


def where(site: str, camera: str, zone: str) -> str:
    """``zone B-3 (cam1) at site b``, or ``camera cam2 at site a`` for camera-wide items."""
    if zone == "-":
        return f"camera {camera} at site {site}"
    return f"zone {zone} ({camera}) at site {site}"


def attention_line(attention: Sequence[Attention], has_signals: bool) -> str:
    """The headline: which zones need a look, or why none are named."""
    if not has_signals:
        return "No plant signals in this window, so no zone can be judged yet."
    if not attention:
        return ("No zone needs attention: no zone's stress reached 3 (clearly abnormal) and "
                "none is getting worse fast.")  # fmt: skip
    names = [f"{where(a.key.site, a.key.camera, a.key.zone)}: {a.reason}" for a in attention]
    return f"{plural(len(attention), 'zone')} need{'s' if len(attention) == 1 else ''} " \
        f"attention: {_listed(names)}."


def alerts_line(episodes: Sequence[Episode]) -> str:
    """Open alerts by name, or how many were raised and resolved."""
    if not episodes:
        return "No alert was raised in this window."
    still_open = [e for e in episodes if e.resolved is None]
    if not still_open:
        return f"{plural(len(episodes), 'alert')} in the window, all resolved."
    names = [f"{e.what} on {where(e.site, e.camera, e.zone)} since {when(e.started)}"
             for e in still_open]  # fmt: skip
    verb = "is" if len(still_open) == 1 else "are"
    return f"{plural(len(still_open), 'alert')} {verb} still open: {_listed(names)}."


def devices_line(devices: Sequence[Device], now: datetime, silent_after: timedelta) -> str | None:
    """Devices that stopped reporting; None when all of them report."""
    silent = [d for d in devices if now - d.last_seen > silent_after]
    if not silent:
        return None
    names = [f"{d.device} at site {d.site}, last seen {when(d.last_seen)} "
             f"({ago(now - d.last_seen)} ago)" for d in silent]  # fmt: skip
    verb = "has" if len(silent) == 1 else "have"
    return (f"{plural(len(silent), 'device')} {verb} not reported for more than "
            f"{ago(silent_after)}: {_listed(names)}.")  # fmt: skip


def quality_lines(quality: Sequence[QualityDay]) -> list[str]:
    """Cameras failing many checks on their latest day, with the main cause."""
    latest: dict[tuple[str, str], QualityDay] = {}
    for q in sorted(quality, key=lambda q: q.day):
        latest[(q.site, q.camera)] = q
    lines = []
    for (site, camera), q in sorted(latest.items()):
        share = q.failed / q.images if q.images else 0.0
        if share >= FAILING_SHARE:
            cause = Counter(dict(q.failing)).most_common(1)[0][0]
            lines.append(f"Camera {camera} at site {site}: {share:.0%} of images failed the "
                         f"quality checks on {q.day:%d %b}, mostly {cause}.")  # fmt: skip
    return lines


def summary_lines(data: ReportData, now: datetime, silent_after: timedelta) -> list[str]:
    """Every sentence of the summary, the most important first."""
    if data.empty:
        return [no_data_line(data)]
    lines = [attention_line(data.attention, bool(data.zone_days)), alerts_line(data.episodes)]
    if (silent := devices_line(data.devices, now, silent_after)) is not None:
        lines.append(silent)
    return lines + quality_lines(data.quality)


def no_data_line(data: ReportData) -> str:
    """What an empty report says instead of plots."""
    scope = f" for site {data.window.site}" if data.window.site else ""
    return (f"No data yet: nothing has been uploaded{scope} between "
            f"{_day(data.window.since)} and {_day(data.window.until)}. This page fills in "
            "once the sites upload and the lake is refreshed (cloudjobs ingest).")  # fmt: skip


def _day(d: date) -> str:
    return f"{d:%d %b %Y}"
