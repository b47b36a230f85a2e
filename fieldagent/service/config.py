"""The ``service`` section of the site config: how often ``fieldagent run`` does its chores."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fieldagent.config.base import Section


class ServiceConfig(Section):
    """Intervals of the service's scheduled jobs and how long a stop may take."""

    scan_interval_seconds: float = Field(
        2.0, ge=0.2, le=600.0, description="how often inbox folders are scanned for new files"
    )
    housekeeping_interval_seconds: float = Field(
        10.0, ge=1.0, le=3600.0,
        description="batches, heartbeats, silent cameras, self-alerts, state saved to disk",
    )
    state_save_seconds: float = Field(
        60.0, ge=1.0, le=3600.0,
        description="how often baselines and alert state are written to disk (and at stop); "
        "each write is fsynced, so not every housekeeping round on an SD card",
    )
    stop_timeout_seconds: float = Field(
        30.0, ge=1.0, le=600.0,
        description="on SIGTERM, wait this long for the image and upload in progress",
    )


class LoggingConfig(Section):
    """Where ``fieldagent run`` sends its log records (the format and level are options of
    the command, so a person can change them for one run without editing the site)."""

    target: Literal["auto", "journal", "stderr"] = Field(
        "auto", description="journal: the systemd journal's native protocol; stderr: lines; "
        "auto: the journal when systemd connected stderr to it (JOURNAL_STREAM), else stderr",
    )
    file: str | None = Field(
        None, min_length=1,
        description="also append the log lines to this file (rotated by logrotate); "
        "unset: no log file, the journal keeps the logs",
    )
