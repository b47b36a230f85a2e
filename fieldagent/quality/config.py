"""The ``quality`` config section: thresholds of every check and the baseline settings.

Defaults are calibrated on the real photos in the shared test data (tray
cameras, 16 MP leaves on black cloth, phenotyping booths with blown-out white
backdrops, NIR) and on synthetic scenes: none of them raises a flag. Ratios
to the camera's baseline use brightness-normalised metrics, so the day/night
swing of the greenhouse light does not read as fog or blur.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from fieldagent.config.base import Section

CheckName = Literal["dark", "underexposed", "overexposed", "blur", "fog", "moved", "frozen"]
ALL_CHECKS: tuple[CheckName, ...] = get_args(CheckName)


class NightConfig(Section):
    """When the site's cameras are dark by design (no lamps): their night frames are expected
    to be dark, so they are not judged against the camera's usual brightness."""

    dark: bool = Field(
        False, description="the cameras are dark at night (lamps off): do not flag exposure then"
    )
    hours: tuple[float, float] = Field(
        (21.0, 5.0),
        description="local hours [start, end) of the night; start > end wraps past midnight",
    )

    @model_validator(mode="after")
    def _hours(self) -> NightConfig:
        if not all(0.0 <= h <= 24.0 for h in self.hours):
            raise ValueError(f"night hours {list(self.hours)} must lie within 0..24")
        return self

    def is_night(self, hour: float) -> bool:
        """Whether local ``hour`` falls in the night window."""
        start, end = self.hours
        return start <= hour < end if start <= end else (hour >= start or hour < end)


class QualityConfig(Section):
    """Per-camera image quality checks (one checker per camera, all sharing this config)."""

    enabled_checks: tuple[CheckName, ...] = Field(
        ALL_CHECKS, description="checks that may raise a flag; metrics are computed regardless"
    )
    baseline_window: int = Field(
        30, ge=3, le=10_000, description="good frames in the camera's rolling-median baseline"
    )
    warmup_frames: int = Field(
        5, ge=1, le=10_000, description="good frames needed before baseline-relative checks apply"
    )
    dark_max_luminance: float = Field(
        0.08,
        ge=0.0,
        le=1.0,
        description="mean luminance below this flags 'dark' (night or lights off)",
    )
    clip_low_level: float = Field(
        0.02, ge=0.0, le=0.5, description="luminance at or below this counts as crushed black"
    )
    clip_high_level: float = Field(
        0.98, ge=0.5, le=1.0, description="luminance at or above this counts as blown-out white"
    )
    underexposed_max_fraction: float = Field(
        0.30, ge=0.0, le=1.0, description="share of crushed pixels above this flags 'underexposed'"
    )
    overexposed_max_fraction: float = Field(
        0.50, ge=0.0, le=1.0, description="share of blown-out pixels above this flags 'overexposed'"
    )
    overexposed_max_plant_fraction: float = Field(
        0.40,
        ge=0.0,
        le=1.0,
        description="share of plant pixels (not background) with a colour channel blown out above "
        "this flags 'overexposed'; needs the background mask",
    )
    clipped_max_rise: float = Field(
        0.20,
        ge=0.0,
        le=1.0,
        description="a clipped share this far above the camera's baseline also flags (a white "
        "backdrop may clip 30% of a normal frame; that camera clipping 50% is not normal)",
    )
    exposure_min_ratio: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="mean luminance below this share of the camera's usual brightness at this "
        "hour flags 'underexposed'",
    )
    exposure_max_ratio: float = Field(
        2.5,
        ge=1.0,
        le=100.0,
        description="mean luminance above this multiple of the camera's usual brightness at this "
        "hour flags 'overexposed'",
    )
    exposure_frames_per_hour: int = Field(
        30,
        ge=1,
        le=10_000,
        description="latest good frames kept per hour of the day for the usual brightness (one "
        "image an hour: 30 days; one every 5 minutes: the last 2.5 days' worth of that hour)",
    )
    exposure_min_samples: int = Field(
        3,
        ge=1,
        le=1000,
        description="good frames (this hour and its neighbours) before brightness is compared",
    )
    night: NightConfig = Field(
        default_factory=NightConfig, description="cameras that are dark at night by design"
    )
    blur_max_effect: float = Field(
        0.60, ge=0.0, le=1.0, description="blur_effect above this flags 'blur' on any camera"
    )
    blur_max_rise: float = Field(
        0.18, ge=0.0, le=1.0, description="blur_effect this far above the camera's baseline flags"
    )
    blur_max_laplacian_ratio: float = Field(
        0.50,
        ge=0.0,
        le=1.0,
        description="...and only if fine detail (Laplacian variance / brightness^2) also fell "
        "below this share of the baseline",
    )
    fog_min_relative_contrast: float = Field(
        0.12,
        ge=0.0,
        le=2.0,
        description="relative contrast (RMS contrast / mean luminance) below this flags 'fog' on "
        "any camera (clear real scenes: 0.34 and up)",
    )
    fog_max_contrast_ratio: float = Field(
        0.60,
        ge=0.0,
        le=1.0,
        description="relative contrast below this share of the baseline flags 'fog' (dimming or "
        "brightening the light leaves relative contrast unchanged, haze does not)",
    )
    fog_min_dark_channel_rise: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="...and only if the dark channel also rose this much (haze lifts the darks)",
    )
    moved_min_px: float = Field(
        3.0,
        ge=0.5,
        le=1000.0,
        description="shift (analysis px) from the reference that flags 'moved'",
    )
    moved_max_fraction: float = Field(
        0.05,
        ge=0.0,
        le=0.5,
        description="shift (share of frame width/height) beyond which zones can't follow: blocking",
    )
    shift_trust_max_error: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="on a frame already flagged (fog, blur, exposure), a registration error above "
        "this means the measured shift is noise: neither flagged nor applied to the zones",
    )
    moved_max_mismatch: float = Field(
        0.85,
        ge=0.0,
        le=1.0,
        description="registration error (1 - correlation of fine detail) above this: the view "
        "itself changed (shadows and fog stay below 0.2, another scene scores 0.9 to 1)",
    )
    reference_refresh_frames: int = Field(
        24,
        ge=1,
        le=100_000,
        description="good frames between renewals of the moved-reference (growth is not motion)",
    )
    registration_side: int = Field(
        384, ge=64, le=4096, description="long side (px) of the gray copy used for registration"
    )
    frozen_max_diff: float = Field(
        0.002,
        ge=0.0,
        le=0.1,
        description="largest pixel change (0-1) still counted as the same frame (noise is more)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> QualityConfig:
        if self.warmup_frames > self.baseline_window:
            raise ValueError(
                f"warmup_frames ({self.warmup_frames}) cannot exceed baseline_window "
                f"({self.baseline_window}); the baseline would never warm up"
            )
        if self.clip_low_level >= self.clip_high_level:
            raise ValueError("clip_low_level must be below clip_high_level")
        if len(set(self.enabled_checks)) != len(self.enabled_checks):
            raise ValueError("enabled_checks lists a check twice")
        return self

    def enabled(self, check: str) -> bool:
        """Whether ``check`` may raise a flag."""
        return check in self.enabled_checks
