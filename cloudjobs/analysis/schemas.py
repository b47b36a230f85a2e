"""The columns of the three datasets the analysis writes back to the lake.

Each is Hive-partitioned by ``site`` (the partition column, not stored in the files):
``curated/<dataset>/site=<site>/part-<since>_<until>.parquet``, one file per analysis window,
replaced when the same window runs again. Every row says which run produced it
(``window_start``, ``window_end``, ``run_date``, ``computed_at``); readers that want the
newest view per site take the rows with the largest ``window_end``.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

_RUN = [
    pa.field("window_start", pa.date32(), nullable=False),
    pa.field("window_end", pa.date32(), nullable=False),
    pa.field("run_date", pa.date32(), nullable=False),
    pa.field("computed_at", TS, nullable=False),
]


def _metric(name: str) -> list[pa.Field]:
    return [
        pa.field(f"{name}_slope_per_day", pa.float64()),
        pa.field(f"{name}_recent", pa.float64()),
        pa.field(f"{name}_history_median", pa.float64()),
        pa.field(f"{name}_history_z", pa.float64()),
        pa.field(f"{name}_peer_z", pa.float64()),
    ]


ZONE_TRENDS = pa.schema([
    pa.field("camera", pa.string(), nullable=False),
    pa.field("zone", pa.string(), nullable=False),
    pa.field("crop", pa.string()),
    *_RUN,
    pa.field("days_observed", pa.int32(), nullable=False),
    pa.field("history_days", pa.int32(), nullable=False),
    pa.field("samples", pa.int64(), nullable=False),
    pa.field("untrusted_share", pa.float64()),
    *_metric("stress_score"),
    *_metric("yellow_fraction"),
    *_metric("gcc"),
    pa.field("peer_count", pa.int32()),
    pa.field("peer_rank", pa.int32()),
    pa.field("flagged", pa.bool_(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
])

CAMERA_HEALTH = pa.schema([
    pa.field("camera", pa.string(), nullable=False),
    pa.field("flag", pa.string(), nullable=False),
    *_RUN,
    pa.field("images", pa.int64(), nullable=False),
    pa.field("hits", pa.int64(), nullable=False),
    pa.field("share", pa.float64()),
    pa.field("hourly_share", pa.list_(pa.float64()), nullable=False),
    pa.field("recurring_hours", pa.list_(pa.int32()), nullable=False),
    pa.field("recurring_days", pa.int32(), nullable=False),
    pa.field("days_checked", pa.int32(), nullable=False),
    pa.field("pattern", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
])

FRESHNESS = pa.schema([
    *_RUN,
    pa.field("now", TS, nullable=False),
    pa.field("last_signal_ts", TS),
    pa.field("last_image_ts", TS),
    pa.field("last_heartbeat_at", TS),
    pa.field("signal_lag_s", pa.float64()),
    pa.field("heartbeat_lag_s", pa.float64()),
    pa.field("image_cadence_s", pa.float64()),
    pa.field("heartbeat_cadence_s", pa.float64()),
    pa.field("signal_rows", pa.int64(), nullable=False),
    pa.field("days_with_signals", pa.int32(), nullable=False),
    pa.field("days_in_window", pa.int32(), nullable=False),
    pa.field("longest_gap_s", pa.float64()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
])

DATASETS: dict[str, pa.Schema] = {
    "analysis_zone_trends": ZONE_TRENDS,
    "analysis_camera_health": CAMERA_HEALTH,
    "analysis_freshness": FRESHNESS,
}


def with_site(schema: pa.Schema) -> pa.Schema:
    """The in-memory form: ``site`` first, as readers see it after Hive partition discovery."""
    return schema.insert(0, pa.field("site", pa.string(), nullable=False))
