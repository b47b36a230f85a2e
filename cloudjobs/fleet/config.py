"""Thresholds of the fleet view: when a device counts as silent, behind or short of disk."""

from __future__ import annotations

from pydantic import Field

from fieldagent.config.base import Section


class FleetConfig(Section):
    """What the fleet view calls silent, behind and low on disk."""

    silent_after_minutes: float = Field(
        30.0, ge=1.0, le=100_000.0, description="a device is silent when its newest "
        "heartbeat is older than this"
    )
    behind_after_minutes: float = Field(
        60.0, ge=1.0, le=100_000.0, description="a device is behind when the oldest item "
        "waiting in its outbox is older than this"
    )
    disk_low_gb: float = Field(
        1.0, ge=0.0, le=100_000.0, description="a device is low on disk below this many "
        "GB (10^9 bytes) free"
    )
    alerts_hours: float = Field(
        24.0, ge=1.0, le=8_760.0, description="alerts raised within this many hours are "
        "counted per site"
    )
    lookback_days: int = Field(
        30, ge=1, le=3_650, description="heartbeats and model reports older than this are "
        "not read; a site quiet for longer shows as never heard of"
    )
