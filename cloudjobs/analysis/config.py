"""Thresholds of the cross-site analysis, in one typed section.

Defaults suit a camera that shoots every few minutes to every hour: a 3-day "recent" value
compared with the four weeks before it, a slope judged against the same slopes at the other
sites, and a camera problem called recurring when it comes back in the same hours on most
of the last week's days.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from fieldagent.config.base import Section


class AnalysisConfig(Section):
    """How zone trends, camera health and site freshness are judged."""

    recent_days: int = Field(
        3, ge=1, le=30, description="days at the end of the window whose median is the "
        "zone's recent value (a median of several days shrugs off one odd day)"
    )
    history_days: int = Field(
        28, ge=3, le=365, description="days before the recent period that form the zone's "
        "own history for the robust z-score"
    )
    min_days: int = Field(
        4, ge=2, le=365, description="days with trusted data needed before a slope or a "
        "history z-score is computed"
    )
    min_peers: int = Field(
        3, ge=2, le=100_000, description="zones of the same kind at other sites needed "
        "before a zone is compared with its peers"
    )
    z_threshold: float = Field(
        3.0, ge=1.0, le=50.0, description="a zone is flagged when a robust z-score in the "
        "worsening direction reaches this"
    )
    floor_stress_score: float = Field(
        0.5, ge=0.0, le=100.0, description="smallest spread of stress_score (z units) used "
        "as a scale; slopes use it divided by the window's days"
    )
    floor_fraction: float = Field(
        0.02, ge=0.0, le=1.0, description="smallest spread of yellow_fraction used as a "
        "scale; slopes use it divided by the window's days"
    )
    floor_gcc: float = Field(
        0.005, ge=0.0, le=1.0, description="smallest spread of gcc used as a scale; slopes "
        "use it divided by the window's days"
    )
    recurring_days: int = Field(
        7, ge=2, le=90, description="the last M days looked at for problems recurring at "
        "the same hour of day"
    )
    recurring_min_days: int = Field(
        4, ge=1, le=90, description="an hour of day is recurring when the problem hits it "
        "on at least N of the last M days"
    )
    recurring_hour_share: float = Field(
        0.5, ge=0.01, le=1.0, description="share of one day-hour's images that must carry "
        "the problem for that day-hour to count as hit"
    )
    persistent_hours: int = Field(
        12, ge=1, le=24, description="more recurring hours than this make the problem "
        "'persistent' (all day) rather than tied to a time of day"
    )
    late_cadences: float = Field(
        3.0, ge=1.0, le=1_000.0, description="a site is late when its newest signal is "
        "older than this many of its usual intervals between images"
    )
    silent_after_minutes: float = Field(
        60.0, ge=1.0, le=100_000.0, description="a site is silent when neither a signal nor "
        "a heartbeat arrived for this long"
    )

    @model_validator(mode="after")
    def _recurring_fits_window(self) -> AnalysisConfig:
        if self.recurring_min_days > self.recurring_days:
            raise ValueError(
                f"recurring_min_days ({self.recurring_min_days}) is larger than recurring_days "
                f"({self.recurring_days}): no problem could ever be called recurring; lower "
                "recurring_min_days or look at more days"
            )
        return self

    def floor(self, metric: str) -> float:
        """The scale floor of a metric's daily values."""
        if metric == "stress_score":
            return self.floor_stress_score
        if metric == "gcc":
            return self.floor_gcc
        return self.floor_fraction
