"""Site freshness: when did we last hear from a site, and is that normal for it?

"Six hours without data" is alarming for a site that sends every ten minutes and normal for
one that uploads twice a day, so lags are set against the site's own cadence: the median
interval between a camera's images (the most frequent camera counts) and between a device's
heartbeats. A site is *silent* when neither a signal nor a heartbeat arrived for
``silent_after_minutes``; *late* when it still talks but its newest signal is older than
``late_cadences`` of its usual intervals (the device is up, the data is stuck).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cloudjobs.analysis.config import AnalysisConfig
from cloudjobs.analysis.schemas import FRESHNESS, TS, with_site
from cloudjobs.analysis.trends import Window
from cloudjobs.lake.reader import LakeReader


def last_time(
    lake: LakeReader, dataset: str, site: str, column: str, now: datetime
) -> datetime | None:
    """Newest ``column`` value not after ``now``, reading the newest partitions first."""
    for day in reversed(lake.dates(dataset, site)):
        if day > now.date().isoformat():
            continue
        stamp = datetime.fromisoformat(day).date()
        values = lake.read(dataset, site, {column: TS}, stamp, stamp).column(column)
        values = values.filter(pc.less_equal(values, pa.scalar(now, TS)))
        newest = pc.max(values).as_py()
        if newest is not None:
            return newest
    return None


def median_interval_s(stamps: pa.Table, key: str, column: str) -> float | None:
    """Median gap between consecutive stamps of each ``key`` value; the smallest one wins."""
    groups: dict[Any, list[int]] = {}
    micros = pc.cast(stamps.column(column), pa.int64()).to_pylist()
    for k, t in zip(stamps.column(key).to_pylist(), micros, strict=True):
        if t is not None:
            groups.setdefault(k, []).append(t)
    medians = [
        float(np.median(np.diff(np.unique(ts)))) / 1e6 for ts in groups.values()
        if len(set(ts)) > 1
    ]
    return min(medians) if medians else None


def longest_gap_s(stamps: Sequence[datetime], end: datetime) -> float | None:
    """Largest silence between consecutive stamps, counting the one from the newest to ``end``."""
    if not stamps:
        return None
    ordered = sorted(stamps)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    return max([*gaps, max(0.0, (end - ordered[-1]).total_seconds())])


def freshness_row(
    site: str, window: Window, cfg: AnalysisConfig, *, last: dict[str, datetime | None],
    images: pa.Table, signal_ts: pa.Table, heartbeats: pa.Table,
) -> pa.Table:
    """One row saying how fresh the site's data is at ``window.now``."""
    now = window.now
    lag = {k: None if v is None else (now - v).total_seconds() for k, v in last.items()}
    cadence = median_interval_s(images, "camera", "ts")
    window_end = datetime.combine(window.until + timedelta(days=1), datetime.min.time(), now.tzinfo)
    stamps = [t for t in signal_ts.column("ts").to_pylist() if t is not None and t <= now]
    status, reason = _status(lag["signal"], lag["heartbeat"], cadence, cfg)
    row = {
        "site": site, **window.stamp(), "now": now,
        "last_signal_ts": last["signal"], "last_image_ts": last["image"],
        "last_heartbeat_at": last["heartbeat"],
        "signal_lag_s": lag["signal"], "heartbeat_lag_s": lag["heartbeat"],
        "image_cadence_s": cadence,
        "heartbeat_cadence_s": median_interval_s(heartbeats, "device", "at"),
        "signal_rows": signal_ts.num_rows,
        "days_with_signals": len(set(signal_ts.column("date").to_pylist())),
        "days_in_window": window.days,
        "longest_gap_s": longest_gap_s(stamps, min(now, window_end)),
        "status": status, "reason": reason,
    }
    return pa.Table.from_pylist([row], schema=with_site(FRESHNESS))


def _status(
    signal_lag: float | None, heartbeat_lag: float | None, cadence: float | None,
    cfg: AnalysisConfig,
) -> tuple[str, str]:
    heard = [x for x in (signal_lag, heartbeat_lag) if x is not None]
    if not heard:
        return "no_data", "no signal and no heartbeat ever arrived from this site"
    quiet = min(heard)
    if quiet > cfg.silent_after_minutes * 60:
        return "silent", (f"nothing heard for {human_duration(quiet)} "
                          f"(silent after {human_duration(cfg.silent_after_minutes * 60)})")
    if signal_lag is None:
        return "late", "heartbeats arrive but no signal ever did: check cameras and uploads"
    if cadence and signal_lag > cfg.late_cadences * cadence:
        return "late", (f"newest signal is {human_duration(signal_lag)} old while images "
                        f"usually come every {human_duration(cadence)}: the device is up, "
                        "its data is not arriving")
    return "ok", f"newest signal {human_duration(signal_lag)} old"


def human_duration(seconds: float) -> str:
    """``93784`` -> ``1d 2h``: the two largest units a person reads at a glance."""
    if not math.isfinite(seconds):
        return "?"
    total = round(abs(seconds))
    parts = [(total // 86_400, "d"), (total % 86_400 // 3_600, "h"),
             (total % 3_600 // 60, "m"), (total % 60, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    text = " ".join(f"{v}{u}" for v, u in parts[:2] if v or u == parts[0][1])
    return ("-" if seconds < 0 else "") + text
