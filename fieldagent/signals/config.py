"""Settings of the plant signals and of each zone's rolling baseline."""

from __future__ import annotations

from pydantic import Field, model_validator

from fieldagent.config.base import Section


class HueBins(Section):
    """How plant pixels are sorted into green / yellow / brown / other (HSV, degrees).

    brown: hue in [brown_from_deg, 360) or [0, yellow_from_deg) (orange-brown to red-brown);
    yellow: [yellow_from_deg, green_from_deg); green: [green_from_deg, green_to_deg);
    other: the remaining hues (blue, purple) and pixels too grey or too dark to call.
    """

    yellow_from_deg: float = Field(40.0, ge=0.0, le=90.0, description="brown below, yellow above")
    green_from_deg: float = Field(
        65.0, ge=30.0, le=120.0, description="yellow below, green above (pure yellow is 60)"
    )
    green_to_deg: float = Field(
        170.0, ge=100.0, le=240.0, description="green below, 'other' (blue) above"
    )
    brown_from_deg: float = Field(
        330.0, ge=240.0, le=360.0, description="red-brown from here up to 360 wraps into brown"
    )
    min_saturation: float = Field(
        0.15, ge=0.0, le=1.0, description="greyer pixels (glare, grey stems) count as 'other'"
    )
    min_value: float = Field(
        0.08, ge=0.0, le=1.0, description="darker pixels (deep shade) count as 'other'"
    )

    @model_validator(mode="after")
    def _ordered(self) -> HueBins:
        edges = [self.yellow_from_deg, self.green_from_deg, self.green_to_deg, self.brown_from_deg]
        if edges != sorted(edges) or len(set(edges)) < 4:
            raise ValueError(
                "hue bins must increase: yellow_from_deg < green_from_deg < green_to_deg "
                f"< brown_from_deg (got {edges})"
            )
        return self


class LightGate(Section):
    """Which frames a zone is compared with its baseline on: only under comparable light.

    Frames outside are still measured and reported (flag ``light_not_comparable``)
    but not scored, not learned from and not counted by signal alert rules.
    """

    enabled: bool = Field(True, description="compare zones only under comparable light")
    max_tint: float = Field(
        1.4,
        ge=1.0,
        le=10.0,
        description="light coloured further than this from the camera's usual light (largest / "
        "smallest white-balance gain; daylight 1.0-1.3, dawn and dusk 1.5-1.9, pink grow "
        "lamps ~2.2) is not compared",
    )
    min_usual_frames: int = Field(
        0, ge=0, le=10_000,
        description="frames the camera's usual light must be learned from before zones are "
        "compared; set e.g. 6 for a camera that may start under grow lamps (0: a fresh camera's "
        "first images count at once)",
    )
    hours: tuple[float, float] = Field(
        (0.0, 24.0),
        description="local hours [start, end) whose frames are compared (e.g. [8, 18] for "
        "daylight only; start > end wraps past midnight); default: all day",
    )

    @model_validator(mode="after")
    def _hours(self) -> LightGate:
        if not all(0.0 <= h <= 24.0 for h in self.hours):
            raise ValueError(f"light gate hours {list(self.hours)} must lie within 0..24")
        return self


class SignalsConfig(Section):
    """Signals and the per-zone baseline they are compared with.

    A zone's *healthy reference* learns from its first ``min_baseline`` trusted
    images, then freezes its noise scale and only takes in further trusted images
    whose ``stress_score`` is at most ``refresh_max_score`` (see
    :mod:`fieldagent.signals.baseline` for why).
    """

    baseline_window: int = Field(
        60, ge=3, le=10_000, description="images in the rolling healthy reference"
    )
    min_baseline: int = Field(
        8, ge=2, le=1_000, description="trusted images before z-scores and stress_score apply"
    )
    refresh_max_score: float = Field(
        1.5, ge=0.0, le=10.0, description="only images scoring at most this refresh the reference"
    )
    growth_window_hours: float = Field(
        72.0, ge=1.0, le=2_160.0, description="growth_rate: slope of ln(area) over this window"
    )
    growth_min_span_hours: float = Field(
        12.0, ge=0.0, le=2_160.0, description="growth_rate needs points spanning at least this"
    )
    growth_min_points: int = Field(
        3, ge=2, le=1_000, description="growth_rate needs at least this many images"
    )
    collapse_ratio: float = Field(
        0.5, gt=0.0, le=1.0,
        description="area below this share of the reference with unchanged colour -> "
        "'segmentation_suspect'",
    )
    colour_change_z: float = Field(
        2.0, ge=0.0, le=100.0, description="a colour z-score above this counts as a real change"
    )
    min_scale_gcc: float = Field(
        0.004, gt=0.0, le=1.0, description="smallest noise scale of gcc_p90 (z-score floor)"
    )
    min_scale_fraction: float = Field(
        0.01, gt=0.0, le=1.0, description="smallest noise scale of yellow/brown fractions"
    )
    min_scale_hue_deg: float = Field(
        1.5, gt=0.0, le=90.0, description="smallest noise scale of the hue shift, degrees"
    )
    min_scale_log_area: float = Field(
        0.03, gt=0.0, le=5.0, description="smallest noise scale of ln(area) (0.03 ~ 3 %)"
    )
    hue_bins: HueBins = Field(default_factory=HueBins, description="green/yellow/brown hue bins")
    light: LightGate = Field(
        default_factory=LightGate, description="compare zones only under comparable light"
    )

    @model_validator(mode="after")
    def _valid(self) -> SignalsConfig:
        if self.min_baseline > self.baseline_window:
            raise ValueError(
                f"min_baseline ({self.min_baseline}) cannot exceed baseline_window "
                f"({self.baseline_window}): the reference could never be complete"
            )
        if self.growth_min_span_hours > self.growth_window_hours:
            raise ValueError("growth_min_span_hours cannot exceed growth_window_hours")
        return self
