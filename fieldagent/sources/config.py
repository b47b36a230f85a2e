"""The ``sources`` section of the site config: the frame queue and where files are kept.

Per-camera settings (inbox folder, snapshot URL) live on each camera's ``source``; this
section holds what all cameras share.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fieldagent.config.base import Section


class SourcesConfig(Section):
    """The queue between the cameras and the analysis, and the folders sources write to."""

    queue_size: int = Field(
        64, ge=1, le=10_000, description="frames waiting for analysis, all cameras together"
    )
    shed: Literal["drop_oldest", "drop_newest"] = Field(
        "drop_oldest",
        description="when the queue is full: drop the oldest waiting frame or the new one",
    )
    quarantine_dir: str = Field(
        "quarantine",
        min_length=1,
        description="where rejected files go, one folder per camera; relative to data_dir",
    )
    quarantine_keep_bytes: int = Field(
        500_000_000,
        ge=1_000_000,
        le=1_000_000_000_000,
        description="per camera; the oldest quarantined files are deleted beyond this",
    )
    snapshot_dir: str = Field(
        "snapshots",
        min_length=1,
        description="where fetched HTTP snapshots wait for analysis; relative to data_dir",
    )
