"""Camera health: which quality problems a camera has, how often, and at what time of day.

A lens that fogs every morning is a different job for the technician (heater, vent, move
the camera) than a camera that blurs now and then. For each camera and each quality flag
(plus ``any``: the image was not usable at all) this counts the share of images over the
window and per hour of day (UTC), then looks at the last ``recurring_days`` days: an hour is
*recurring* when, on at least ``recurring_min_days`` of them, at least ``recurring_hour_share``
of that hour's images carried the flag. Random failures almost never hit the same hour on
most days; a morning fog does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from cloudjobs.analysis.config import AnalysisConfig
from cloudjobs.analysis.lakeio import naive_utc
from cloudjobs.analysis.schemas import CAMERA_HEALTH, TS, with_site
from cloudjobs.analysis.trends import Window

ANY = "any"
QUALITY_COLUMNS: Mapping[str, pa.DataType] = {
    "ts": TS,
    "camera": pa.string(),
    "ok": pa.bool_(),
    "flags": pa.list_(pa.string()),
}

# (camera, flag) -> (date, hour) -> images with the flag; counts: camera -> (date, hour) -> images
Hits = dict[tuple[str, str], dict[tuple[str, int], int]]
Counts = dict[str, dict[tuple[str, int], int]]


@dataclass(frozen=True)
class _Recurrence:
    hours: list[int]
    days_hit: int
    days_checked: int


def camera_health(site: str, quality: pa.Table, window: Window, cfg: AnalysisConfig) -> pa.Table:
    """One row per camera and flag seen in the window (plus ``any`` per camera)."""
    counts, hits = _count(quality, window)
    rows = []
    for camera in sorted(counts):
        flags = sorted({f for c, f in hits if c == camera} | {ANY})
        for flag in flags:
            rows.append(_row(site, camera, flag, counts[camera], hits.get((camera, flag), {}),
                             window, cfg))
    return pa.Table.from_pylist(rows, schema=with_site(CAMERA_HEALTH))


def _count(quality: pa.Table, window: Window) -> tuple[Counts, Hits]:
    con = duckdb.connect(config={"threads": 1})
    con.register("q", naive_utc(quality, "ts"))
    base = f"""SELECT camera, date, hour(ts) AS h, coalesce(ok, false) AS ok,
                      list_distinct(coalesce(flags, [])) AS flags
               FROM q WHERE camera IS NOT NULL
                 AND date BETWEEN '{window.since.isoformat()}' AND '{window.until.isoformat()}'"""
    counts: Counts = defaultdict(dict)
    hits: Hits = defaultdict(dict)
    for camera, day, hour, n, bad in con.sql(
        f"SELECT camera, date, h, count(*), count(*) FILTER (WHERE NOT ok) FROM ({base}) "
        "GROUP BY ALL"
    ).fetchall():
        counts[camera][(day, hour)] = n
        if bad:
            hits[(camera, ANY)][(day, hour)] = bad
    for camera, day, hour, flag, n in con.sql(
        f"SELECT camera, date, h, flag, count(*) FROM (SELECT camera, date, h, "
        f"unnest(flags) AS flag FROM ({base})) GROUP BY ALL"
    ).fetchall():
        hits[(camera, flag)][(day, hour)] = n
    return counts, hits


def _row(
    site: str, camera: str, flag: str, counts: Mapping[tuple[str, int], int],
    hits: Mapping[tuple[str, int], int], window: Window, cfg: AnalysisConfig,
) -> dict[str, Any]:
    images, hit = sum(counts.values()), sum(hits.values())
    per_hour_n, per_hour_k = [0] * 24, [0] * 24
    for (_, hour), n in counts.items():
        per_hour_n[hour] += n
    for (_, hour), k in hits.items():
        per_hour_k[hour] += k
    rec = _recurrence(counts, hits, window.until, cfg)
    pattern = _pattern(hit, rec, cfg)
    return {
        "site": site, "camera": camera, "flag": flag, **window.stamp(),
        "images": images, "hits": hit, "share": hit / images if images else None,
        "hourly_share": [k / n if n else None for k, n in zip(per_hour_k, per_hour_n,
                                                                 strict=True)],
        "recurring_hours": rec.hours, "recurring_days": rec.days_hit,
        "days_checked": rec.days_checked, "pattern": pattern,
        "reason": _reason(flag, pattern, hit, images, rec, cfg),
    }


def _recurrence(
    counts: Mapping[tuple[str, int], int], hits: Mapping[tuple[str, int], int], until: date,
    cfg: AnalysisConfig,
) -> _Recurrence:
    last = {(until - timedelta(days=i)).isoformat() for i in range(cfg.recurring_days)}
    hit_days: dict[int, set[str]] = defaultdict(set)
    for (day, hour), n in counts.items():
        if day in last and hits.get((day, hour), 0) >= cfg.recurring_hour_share * n:
            hit_days[hour].add(day)
    hours = sorted(h for h, days in hit_days.items() if len(days) >= cfg.recurring_min_days)
    days_hit = set().union(*(hit_days[h] for h in hours)) if hours else set()
    checked = {day for day, _ in counts if day in last}
    return _Recurrence(hours, len(days_hit), len(checked))


def _pattern(hits: int, rec: _Recurrence, cfg: AnalysisConfig) -> str:
    if not hits:
        return "none"
    if len(rec.hours) > cfg.persistent_hours:
        return "persistent"
    return "recurring" if rec.hours else "sporadic"


def _reason(
    flag: str, pattern: str, hits: int, images: int, rec: _Recurrence, cfg: AnalysisConfig
) -> str:
    what = "unusable images" if flag == ANY else flag
    if pattern == "none":
        return f"no {what} in {images} images"
    share = f"{what} on {hits / images:.0%} of {images} images"
    if pattern == "sporadic":
        return f"{share}; no hour of day repeats on {cfg.recurring_min_days} of the last " \
               f"{cfg.recurring_days} days"
    return (f"{share}; {pattern} {hour_ranges(rec.hours)} UTC on {rec.days_hit} of the last "
            f"{rec.days_checked} days with images")


def hour_ranges(hours: list[int]) -> str:
    """``[6, 7, 13]`` -> ``06-08h, 13-14h``: consecutive hours as one span."""
    spans: list[list[int]] = []
    for h in hours:
        if spans and spans[-1][1] == h:
            spans[-1][1] = h + 1
        else:
            spans.append([h, h + 1])
    return ", ".join(f"{a:02d}-{b:02d}h" for a, b in spans)
