"""Zone trends: is this zone getting worse, compared with its own past and with its peers?

Per zone (site, camera, zone) the trusted signal rows are reduced to one median per day,
which already shrugs off a bad hour; the window's slope is a Theil-Sen line through those
daily medians, which shrugs off a bad day. Two questions follow:

* own history: is the median of the last ``recent_days`` days far from the zone's previous
  ``history_days`` days (robust z: median and MAD of the daily values)?
* peers: is the zone's slope far from the slopes of the same kind of zone at *other* sites
  (robust z of the slope against theirs)? Other sites, so that one site's own trouble does
  not hide itself by becoming its own reference.

Untrusted rows (the image failed quality) never enter a value; their share is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cloudjobs.analysis.config import AnalysisConfig
from cloudjobs.analysis.crops import CropMap
from cloudjobs.analysis.robust import robust_z, theil_sen_slope
from cloudjobs.analysis.schemas import ZONE_TRENDS, with_site

# Metric name and the sign of "worse": stress and yellowing rise, greenness falls.
METRICS: tuple[tuple[str, int], ...] = (("stress_score", 1), ("yellow_fraction", 1), ("gcc", -1))
TS = pa.timestamp("us", tz="UTC")
SIGNAL_COLUMNS: Mapping[str, pa.DataType] = {
    "ts": TS,
    "camera": pa.string(),
    "zone": pa.string(),
    "trusted": pa.bool_(),
    **{m: pa.float64() for m, _ in METRICS},
}


@dataclass(frozen=True)
class Window:
    """The analysed days ``since..until`` (inclusive, UTC) and when the run happened."""

    since: date
    until: date
    now: datetime

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return (self.until - self.since).days + 1

    def stamp(self) -> dict[str, Any]:
        """The columns every analysis row carries to say which run produced it."""
        return {"window_start": self.since, "window_end": self.until,
                "run_date": self.now.date(), "computed_at": self.now}


def daily_medians(signals: pa.Table) -> pa.Table:
    """One row per zone and day: rows, trusted rows, and the median of each metric (trusted)."""
    con = duckdb.connect(config={"threads": 1})
    con.register("sig", signals.drop_columns(["ts"]))
    medians = ", ".join(f"median({m}) FILTER (WHERE trusted) AS {m}" for m, _ in METRICS)
    return con.sql(
        f"""SELECT camera, zone, date, count(*) AS n,
                   count(*) FILTER (WHERE trusted) AS n_trusted, {medians}
            FROM (SELECT * REPLACE (coalesce(trusted, false) AS trusted) FROM sig)
            WHERE zone IS NOT NULL
            GROUP BY camera, zone, date ORDER BY camera, zone, date"""
    ).to_arrow_table()


def site_zone_rows(
    site: str, daily: pa.Table, window: Window, cfg: AnalysisConfig, crops: CropMap
) -> list[dict[str, Any]]:
    """Per-zone slopes and own-history z-scores of one site (peer columns still empty)."""
    cols = daily.to_pydict()
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(cols["camera"], cols["zone"], strict=True)):
        groups.setdefault(key, []).append(i)
    return [
        _zone_row(site, camera, zone, {k: [cols[k][i] for i in idx] for k in cols}, window, cfg,
                  crops)
        for (camera, zone), idx in sorted(groups.items())
    ]


def _zone_row(
    site: str, camera: str, zone: str, rows: Mapping[str, list[Any]], window: Window,
    cfg: AnalysisConfig, crops: CropMap,
) -> dict[str, Any]:
    day = np.array([(date.fromisoformat(d) - window.since).days for d in rows["date"]])
    n = np.array(rows["n"], dtype=float)
    trusted = np.array(rows["n_trusted"], dtype=float)
    inside = (day >= 0) & (day < window.days)
    recent_from = window.days - cfg.recent_days
    history = (day >= recent_from - cfg.history_days) & (day < recent_from)
    observed = inside & (trusted > 0)
    out: dict[str, Any] = {
        "site": site, "camera": camera, "zone": zone, "crop": crops.crop_of(site, camera, zone),
        **window.stamp(),
        "days_observed": int(observed.sum()),
        "history_days": int((history & (trusted > 0)).sum()),
        "samples": int(trusted[inside].sum()),
        "untrusted_share": float(1 - trusted[inside].sum() / n[inside].sum())
        if n[inside].sum() else None,
    }
    for metric, _ in METRICS:
        y = np.array([math.nan if v is None else v for v in rows[metric]], dtype=float)
        ok = inside & np.isfinite(y)
        slope = theil_sen_slope(day[ok].astype(float), y[ok]) if ok.sum() >= cfg.min_days else None
        recent = y[(day >= recent_from) & inside & np.isfinite(y)]
        past = y[history & np.isfinite(y)]
        recent_value = float(np.median(recent)) if recent.size else None
        out |= {
            f"{metric}_slope_per_day": slope,
            f"{metric}_recent": recent_value,
            f"{metric}_history_median": float(np.median(past)) if past.size else None,
            f"{metric}_history_z": robust_z(recent_value, past, floor=cfg.floor(metric))
            if recent_value is not None and past.size >= cfg.min_days else None,
            f"{metric}_peer_z": None,
        }
    return out | {"peer_count": None, "peer_rank": None, "flagged": False, "reason": ""}


def add_peer_scores(
    rows: Sequence[dict[str, Any]], window: Window, cfg: AnalysisConfig, crops: CropMap
) -> pa.Table:
    """Compare every zone's slopes with the same kind of zone at other sites; rank; flag."""
    kinds = [r["crop"] if crops.given else "" for r in rows]
    out = [dict(r) for r in rows]
    for metric, _ in METRICS:
        slopes = np.array([_num(r[f"{metric}_slope_per_day"]) for r in rows])
        floor = cfg.floor(metric) / window.days
        peer_sets: dict[tuple[str | None, str], np.ndarray] = {}
        for i, row in enumerate(out):
            key = (kinds[i], row["site"])
            if key not in peer_sets:
                peer_sets[key] = slopes[[
                    j for j in range(len(rows))
                    if kinds[j] == kinds[i] and rows[j]["site"] != row["site"]
                ]]
            peers = peer_sets[key][np.isfinite(peer_sets[key])]
            if metric == METRICS[0][0]:  # peers with a stress slope: the ranking's base
                row["peer_count"] = int(peers.size)
            if peers.size >= cfg.min_peers and math.isfinite(slopes[i]):
                row[f"{metric}_peer_z"] = robust_z(slopes[i], peers, floor=floor)
    _rank(out, kinds)
    for row in out:
        row["flagged"], row["reason"] = _verdict(row, window, cfg)
    out.sort(key=lambda r: (r["site"], r["camera"], r["zone"]))
    return pa.Table.from_pylist(out, schema=with_site(ZONE_TRENDS))


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _rank(rows: list[dict[str, Any]], kinds: list[str | None]) -> None:
    """1 = the zone whose stress slope is furthest above its peers, within its kind."""
    metric, sign = METRICS[0]
    for kind in set(kinds):
        members = [r for r, k in zip(rows, kinds, strict=True)
                   if k == kind and r[f"{metric}_peer_z"] is not None]
        members.sort(key=lambda r: (-sign * r[f"{metric}_peer_z"], r["site"], r["camera"],
                                    r["zone"]))
        for rank, row in enumerate(members, start=1):
            row["peer_rank"] = rank


def _verdict(row: Mapping[str, Any], window: Window, cfg: AnalysisConfig) -> tuple[bool, str]:
    """Flag a zone whose z-score is past the threshold in the worsening direction; say why."""
    if row["days_observed"] < cfg.min_days:
        days = row["days_observed"]
        return False, (f"only {days} day{'' if days == 1 else 's'} with trusted data in the "
                       f"window ({cfg.min_days} needed)")
    reasons = []
    for metric, sign in METRICS:
        peer_z, own_z = row[f"{metric}_peer_z"], row[f"{metric}_history_z"]
        trend = "rising" if sign > 0 else "falling"
        if peer_z is not None and sign * peer_z >= cfg.z_threshold:
            reasons.append(
                f"{metric} {trend} {row[f'{metric}_slope_per_day']:+.3g}/day, "
                f"{sign * peer_z:.1f} robust SD worse than {row['peer_count']} peer zones "
                "at other sites"
            )
        if own_z is not None and sign * own_z >= cfg.z_threshold:
            start = window.until - timedelta(days=cfg.recent_days - 1)
            reasons.append(
                f"{metric} since {start.isoformat()} is {row[f'{metric}_recent']:.3g}, "
                f"{sign * own_z:.1f} robust SD worse than the zone's own {row['history_days']} "
                f"days before (median {row[f'{metric}_history_median']:.3g})"
            )
    return bool(reasons), "; ".join(reasons)
