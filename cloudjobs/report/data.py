"""What the report shows, as DuckDB SQL over the curated views, returned as frozen records.

Zones are keyed by site, camera and zone id: zone ids repeat across cameras (every camera's
default zone has the same id), so a zone alone would merge different benches. Only trusted
signals count (an image that failed quality marks its zones untrusted), and NaN is
treated as missing, so a median is never pulled by a reading the agent itself distrusted.
A dataset nobody uploaded yet is reported as missing, never as an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cloudjobs.report.views import CuratedLake

TREND_METRICS = ("stress_score", "yellow_fraction", "gcc")
HEARTBEAT_LOOKBACK_DAYS = 90  # a device silent for the whole window must still be listed


@dataclass(frozen=True)
class Window:
    """The dates the report covers (UTC dates, both included) and the site filter."""

    since: date
    until: date
    site: str | None = None


@dataclass(frozen=True)
class ZoneKey:
    """One zone of one camera at one site."""

    site: str
    camera: str
    zone: str

    @property
    def label(self) -> str:
        """Short name for plots and tables: the zone id, its camera in brackets."""
        return f"{self.zone} ({self.camera})"


@dataclass(frozen=True)
class ZoneDay:
    """Daily medians of one zone's trusted readings; None when the zone had none."""

    key: ZoneKey
    day: date
    stress_score: float | None
    yellow_fraction: float | None
    gcc: float | None
    images: int

    def value(self, metric: str) -> float | None:
        """The median of ``metric`` (one of :data:`TREND_METRICS`)."""
        return {"stress_score": self.stress_score, "yellow_fraction": self.yellow_fraction,
                "gcc": self.gcc}[metric]  # fmt: skip


@dataclass(frozen=True)
class ZoneLatest:
    """A zone's stress on its latest day with a reading, and its first day in the window."""

    key: ZoneKey
    day: date
    stress: float
    first_day: date
    first_stress: float

    @property
    def rise(self) -> float:
        """Change of the daily median stress from the first to the latest day (z units)."""
        return self.stress - self.first_stress


@dataclass(frozen=True)
class QualityDay:
    """Images of one camera on one day, and how many failed, by first cause."""

    site: str
    camera: str
    day: date
    images: int
    failing: tuple[tuple[str, int], ...]  # (cause, images), cause = first flag or unreadable

    @property
    def failed(self) -> int:
        """Images that failed a check or could not be read."""
        return sum(n for _, n in self.failing)


@dataclass(frozen=True)
class Episode:
    """One alert episode (raised, then maybe resolved) as seen within the window."""

    site: str
    camera: str
    zone: str
    rule: str
    severity: str
    what: str
    message: str
    started: datetime  # raised (or, when only its resolution is in the window, its since)
    resolved: datetime | None


@dataclass(frozen=True)
class Device:
    """The latest heartbeat of one device."""

    site: str
    device: str
    last_seen: datetime
    agent_version: str | None
    model_version: str | None
    backlog_items: float | None
    backlog_oldest_s: float | None


@dataclass(frozen=True)
class Attention:
    """A zone an agronomist should look at, and why, in plain words."""

    key: ZoneKey
    stress: float | None
    rise: float | None
    reason: str
    source: str  # which judgement named it: the cross-site analysis or this report's rule


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows. ``missing`` names datasets nobody uploaded yet."""

    window: Window
    zone_days: tuple[ZoneDay, ...]
    latest: tuple[ZoneLatest, ...]
    quality: tuple[QualityDay, ...]
    episodes: tuple[Episode, ...]
    devices: tuple[Device, ...]
    attention: tuple[Attention, ...]
    missing: frozenset[str]
    skipped_files: tuple[str, ...]

    @property
    def sites(self) -> tuple[str, ...]:
        """Sites with any data in the window, sorted."""
        found = {z.key.site for z in self.zone_days} | {q.site for q in self.quality}
        found |= {e.site for e in self.episodes} | {d.site for d in self.devices}
        return tuple(sorted(found))

    @property
    def empty(self) -> bool:
        """True when nothing at all was uploaded for this window and site."""
        return not (self.zone_days or self.quality or self.episodes or self.devices)


def default_window(lake: CuratedLake, today: date, days: int = 14) -> Window:
    """Up to ``days`` days up to the latest date with data (up to ``today`` without data).

    It starts no earlier than the first data, so a young lake fills the plots' width.
    """
    first, last = lake.days(("signals", "quality", "alerts")) or (date.min, today)
    return Window(max(first, last - timedelta(days=days - 1)), last, lake.site)


def _num(lake: CuratedLake, view: str, column: str) -> str:
    """A float column, NaN as NULL; NULL when this dataset has no such column yet."""
    if not lake.has(view, column):
        return "CAST(NULL AS DOUBLE)"
    return f"CASE WHEN isnan({column}) THEN NULL ELSE {column} END"


def zone_days(lake: CuratedLake) -> list[ZoneDay]:
    """Daily medians of stress, yellow share and greenness per zone, trusted readings only."""
    if not lake.has("signals", "camera", "zone", "trusted"):
        return []
    medians = ", ".join(f"median({_num(lake, 'signals', m)}) AS {m}" for m in TREND_METRICS)
    rows = lake.rows(
        f"SELECT site, camera, zone, date AS day, {medians}, count(*) AS images "
        "FROM signals WHERE trusted GROUP BY ALL ORDER BY site, camera, zone, day"
    )
    return [
        ZoneDay(ZoneKey(r["site"], r["camera"], r["zone"]), date.fromisoformat(r["day"]),
                r["stress_score"], r["yellow_fraction"], r["gcc"], int(r["images"]))
        for r in rows
    ]  # fmt: skip


def latest_stress(days: Sequence[ZoneDay]) -> list[ZoneLatest]:
    """Per zone, the median stress of its latest and of its first day that had one."""
    firsts: dict[ZoneKey, ZoneDay] = {}
    lasts: dict[ZoneKey, ZoneDay] = {}
    for d in sorted(days, key=lambda d: d.day):
        if d.stress_score is not None:
            firsts.setdefault(d.key, d)
            lasts[d.key] = d
    return [
        ZoneLatest(k, last.day, float(last.stress_score or 0.0), firsts[k].day,
                   float(firsts[k].stress_score or 0.0))
        for k, last in lasts.items()
    ]  # fmt: skip


def quality_days(lake: CuratedLake) -> list[QualityDay]:
    """Per camera and day: images, and failing images by their first flag.

    The agent lists flags with the one that explains the others first (exposure before
    blur), so each failing image is counted once, under that cause.
    """
    if not lake.has("quality", "camera", "status", "ok", "flags"):
        return []
    rows = lake.rows(
        "SELECT site, camera, date AS day, "
        "CASE WHEN status = 'rejected' THEN 'unreadable' WHEN ok THEN NULL "
        "ELSE coalesce(flags[1], 'other') END AS cause, count(*) AS n "
        "FROM quality GROUP BY ALL ORDER BY site, camera, day, cause"
    )
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault((r["site"], r["camera"], r["day"]), []).append(r)
    return [
        QualityDay(site, camera, date.fromisoformat(day), sum(int(r["n"]) for r in rs),
                   tuple((r["cause"], int(r["n"])) for r in rs if r["cause"] is not None))
        for (site, camera, day), rs in grouped.items()
    ]  # fmt: skip


def episodes(lake: CuratedLake) -> list[Episode]:
    """Alert episodes: the raised and resolved records of one key folded into one row."""
    if not lake.has("alerts", "at", "since", "state", "episode"):
        return []
    rows = lake.rows(
        'SELECT site, camera, zone, rule, arg_max(severity, "at") AS severity, '
        'arg_max(what, "at") AS what, arg_min(message, "at") AS message, '
        'coalesce(min("at") FILTER (WHERE state = \'raised\'), min("since")) AS started, '
        'max("at") FILTER (WHERE state = \'resolved\') AS resolved '
        "FROM alerts GROUP BY site, camera, zone, rule, episode ORDER BY started, site"
    )
    return [
        Episode(r["site"], r["camera"], r["zone"], r["rule"], r["severity"] or "info",
                r["what"] or r["rule"], r["message"] or "", r["started"], r["resolved"])
        for r in rows
    ]  # fmt: skip


def devices(lake: CuratedLake) -> list[Device]:
    """The latest heartbeat of every device (agent version, model version, backlog)."""
    if not lake.has("heartbeats", "at", "device"):
        return []
    text = "CAST(NULL AS VARCHAR)"
    columns = {
        "agent_version": "agent_version" if lake.has("heartbeats", "agent_version") else text,
        "model_version": "model_version" if lake.has("heartbeats", "model_version") else text,
        "backlog_items": _num(lake, "heartbeats", "outbox_items"),
        "backlog_oldest_s": _num(lake, "heartbeats", "outbox_oldest_age_s"),
    }
    latest = ", ".join(f'arg_max({expr}, "at") AS {name}' for name, expr in columns.items())
    rows = lake.rows(
        f'SELECT site, device, max("at") AS last_seen, {latest} '
        "FROM heartbeats GROUP BY site, device ORDER BY last_seen, site, device"
    )
    return [Device(**r) for r in rows]


def computed_attention(
    latest: Sequence[ZoneLatest], *, abnormal: float = 3.0, min_rise: float = 2.0
) -> list[Attention]:
    """Zones whose latest stress is clearly abnormal or rose most, worst rise first.

    ``abnormal`` = 3 follows the signal table (stress_score > 3 = clearly abnormal);
    ``min_rise`` catches a zone climbing fast before it gets there.
    """
    flagged = [z for z in latest if z.stress >= abnormal or z.rise >= min_rise]
    rule = f"stress {abnormal:g} or more (clearly abnormal)" + (
        f", or up {min_rise:g} or more in the window" if math.isfinite(min_rise) else "")
    flagged.sort(key=lambda z: (-z.rise, -z.stress, z.key.site, z.key.label))
    return [
        Attention(z.key, z.stress, z.rise,
                  f"stress {z.stress:.1f} on {z.day:%d %b}"
                  + (f", up {z.rise:.1f} since {z.first_day:%d %b}" if z.rise > 0.05 else ""),
                  rule)
        for z in flagged
    ]  # fmt: skip


def analysis_attention(lake: CuratedLake, window: Window) -> tuple[list[Attention], set[str]]:
    """Zones flagged by the newest analysis run of each site that ended inside the window.

    Also returns the sites such a run covers: for those, the analysis (a zone against its
    own history and against peers at other sites) judges trends instead of the simple rise.
    """
    name = "analysis_zone_trends"
    if not lake.has(name, "camera", "zone", "window_end", "computed_at", "flagged", "reason"):
        return [], set()
    recent = _num(lake, name, "stress_score_recent")
    rows = lake.rows(
        f"SELECT site, camera, zone, flagged, reason, {recent} AS stress, window_start, "
        "window_end FROM (SELECT *, dense_rank() OVER (PARTITION BY site ORDER BY window_end "
        f"DESC, computed_at DESC) AS run FROM {name} WHERE window_end BETWEEN ? AND ?) "
        "WHERE run = 1 ORDER BY site, camera, zone",
        [window.since, window.until],
    )
    flagged = [
        Attention(ZoneKey(r["site"], r["camera"], r["zone"]), r["stress"], None, r["reason"],
                  f"cross-site analysis of {r['window_start']:%d %b} to {r['window_end']:%d %b}")
        for r in rows if r["flagged"]
    ]  # fmt: skip
    return flagged, {r["site"] for r in rows}


def attention(lake: CuratedLake, window: Window, latest: Sequence[ZoneLatest]) -> list[Attention]:
    """Zones to look at, most stressed first.

    Where the analysis ran, its flags replace the simple "rose the most" rule; a zone whose
    stress is clearly abnormal (3 or more) is named everywhere, whatever its trend.
    """
    found, covered = analysis_attention(lake, window)
    named = {a.key for a in found}
    found += computed_attention([z for z in latest if z.key.site not in covered])
    found += [
        a for a in computed_attention([z for z in latest if z.key.site in covered],
                                      min_rise=math.inf)
        if a.key not in named
    ]  # fmt: skip
    return sorted(found, key=lambda a: (a.stress is None, -(a.stress or 0.0)))


def load(lake: CuratedLake, window: Window) -> ReportData:
    """Register the views for ``window`` and run every query the report needs."""
    found = {
        name: lake.register(name, window.since, window.until)
        for name in ("signals", "quality", "alerts")
    }
    lookback = window.until - timedelta(days=HEARTBEAT_LOOKBACK_DAYS)
    found["heartbeats"] = lake.register("heartbeats", lookback, window.until)
    lake.register("analysis_zone_trends")
    days = zone_days(lake)
    latest = latest_stress(days)
    return ReportData(
        window=window,
        zone_days=tuple(days),
        latest=tuple(latest),
        quality=tuple(quality_days(lake)),
        episodes=tuple(episodes(lake)),
        devices=tuple(devices(lake)),
        attention=tuple(attention(lake, window, latest)),
        missing=frozenset(n for n, ok in found.items() if not ok and not lake.files(n)),
        skipped_files=tuple(lake.skipped),
    )
