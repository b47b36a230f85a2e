"""The verdicts: which metric values raise which flag, with a sentence for the person on site.

Pure functions of (metrics, the camera's baseline medians, config). ``base``
holds the baseline medians and is empty while the camera is warming up, so
only the absolute thresholds apply to a fresh camera.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fieldagent.quality.config import QualityConfig
from fieldagent.quality.report import QualityFlag

Metrics = Mapping[str, float]


def exposure_flags(m: Metrics, base: Metrics, cfg: QualityConfig) -> list[QualityFlag]:
    """dark, underexposed, overexposed: judged first, as they explain the other symptoms."""
    lum = m["mean_luminance"]
    if cfg.enabled("dark") and lum < cfg.dark_max_luminance:
        msg = (
            f"image is too dark to analyse (mean brightness {lum:.3f} < "
            f"{cfg.dark_max_luminance:.3f}); expected at night, otherwise check the lights "
            "and the camera's exposure"
        )
        return [QualityFlag("dark", "mean_luminance", lum, cfg.dark_max_luminance, True, msg)]
    flags: list[QualityFlag] = []
    low = _clipped_limit(base.get("clipped_low"), cfg.underexposed_max_fraction, cfg)
    if cfg.enabled("underexposed") and m["clipped_low"] > low:
        msg = (
            f"{m['clipped_low']:.0%} of the image is crushed to black (limit {low:.0%}); "
            "increase the exposure or the lighting"
        )
        flags.append(QualityFlag("underexposed", "clipped_low", m["clipped_low"], low, True, msg))
    if cfg.enabled("overexposed"):
        flags.extend(_overexposed(m, base, cfg))
    return flags


def relative_exposure_flag(
    lum: float, usual: float | None, cfg: QualityConfig
) -> QualityFlag | None:
    """Much darker or brighter than this camera usually is at this hour of the day."""
    if usual is None or usual <= 0.0:
        return None
    low, high = usual * cfg.exposure_min_ratio, usual * cfg.exposure_max_ratio
    if cfg.enabled("underexposed") and lum < low:
        msg = (
            f"image is much darker than this camera usually is at this hour (mean brightness "
            f"{lum:.3f}, usually {usual:.3f}, limit {low:.3f}); check the lights, the lens and "
            "the camera's exposure settings"
        )
        return QualityFlag("underexposed", "mean_luminance", lum, low, True, msg)
    if cfg.enabled("overexposed") and lum > high:
        msg = (
            f"image is much brighter than this camera usually is at this hour (mean brightness "
            f"{lum:.3f}, usually {usual:.3f}, limit {high:.3f}); check the exposure settings or "
            "shade the camera from direct sun"
        )
        return QualityFlag("overexposed", "mean_luminance", lum, high, True, msg)
    return None


def _overexposed(m: Metrics, base: Metrics, cfg: QualityConfig) -> list[QualityFlag]:
    """Blown-out share of the frame, or of the plants when the background mask is known."""
    high = _clipped_limit(base.get("clipped_high"), cfg.overexposed_max_fraction, cfg)
    if m["clipped_high"] > high:
        msg = (
            f"{m['clipped_high']:.0%} of the image is blown out to white (limit {high:.0%}); "
            "reduce the exposure or shade the camera from direct sun"
        )
        return [QualityFlag("overexposed", "clipped_high", m["clipped_high"], high, True, msg)]
    plants = m.get("saturated_plant", 0.0)
    if plants > cfg.overexposed_max_plant_fraction:
        limit = cfg.overexposed_max_plant_fraction
        msg = (
            f"{plants:.0%} of the plant pixels have a colour blown out (limit {limit:.0%}), so "
            "their colour cannot be measured; reduce the exposure or shade the camera"
        )
        return [QualityFlag("overexposed", "saturated_plant", plants, limit, True, msg)]
    return []


def blur_flag(m: Metrics, base: Metrics, cfg: QualityConfig) -> QualityFlag | None:
    """Absolute blur_effect limit, or a rise over the baseline confirmed by lost fine detail."""
    if not cfg.enabled("blur"):
        return None
    value = m["blur_effect"]
    if value > cfg.blur_max_effect:
        msg = (
            f"image is blurred (blur_effect {value:.2f} > {cfg.blur_max_effect:.2f}); "
            "check the focus, clean the lens or wipe condensation off it"
        )
        return QualityFlag("blur", "blur_effect", value, cfg.blur_max_effect, True, msg)
    usual, usual_detail = base.get("blur_effect"), base.get("detail")
    if usual is None or usual_detail is None or usual_detail <= 0.0:
        return None
    limit = usual + cfg.blur_max_rise
    detail_ratio = m["detail"] / usual_detail
    if value > limit and detail_ratio < cfg.blur_max_laplacian_ratio:
        msg = (
            f"image is blurrier than usual for this camera (blur_effect {value:.2f}, usually "
            f"{usual:.2f}; fine detail at {detail_ratio:.0%} of usual); check the focus, clean "
            "the lens or wipe condensation off it"
        )
        return QualityFlag("blur", "blur_effect", value, limit, True, msg)
    return None


def fog_flag(m: Metrics, base: Metrics, cfg: QualityConfig) -> QualityFlag | None:
    """Contrast gone (absolute), or contrast down while the darks rose (haze, relative).

    Contrast is relative (RMS / mean luminance): the greenhouse light dims and
    brightens through the day without any haze.
    """
    if not cfg.enabled("fog"):
        return None
    rel = m["relative_contrast"]
    if rel < cfg.fog_min_relative_contrast:
        return _no_contrast_flag(rel, cfg.fog_min_relative_contrast)
    usual, usual_dark = base.get("relative_contrast"), base.get("dark_channel")
    if usual is None or usual_dark is None or usual <= 0.0:
        return None
    limit = usual * cfg.fog_max_contrast_ratio
    rise = m["dark_channel"] - usual_dark
    if rel < limit and rise > cfg.fog_min_dark_channel_rise:
        msg = (
            f"image is hazy (relative contrast {rel:.2f}, {rel / usual:.0%} of this camera's "
            f"usual {usual:.2f}; dark channel up {rise:.2f}); check for fog or condensation on "
            "the lens or the enclosure window"
        )
        return QualityFlag("fog", "relative_contrast", rel, limit, True, msg)
    return None


def _no_contrast_flag(rel: float, limit: float) -> QualityFlag:
    msg = (
        f"image has almost no contrast (relative contrast {rel:.2f} < {limit:.2f}); "
        "check for fog, condensation or something covering the lens"
    )
    return QualityFlag("fog", "relative_contrast", rel, limit, True, msg)


def moved_flag(
    m: Metrics, shape: tuple[int, int], cfg: QualityConfig, *, view_check: bool
) -> QualityFlag | None:
    """Small shift: zones follow it (non-blocking). Large shift or a changed view: blocking.

    ``view_check`` is False when another flag already explains a poor match
    (fog, blur, exposure), so the registration error is not blamed on the camera.
    """
    if not cfg.enabled("moved"):
        return None
    error = m["registration_error"]
    if view_check and error > cfg.moved_max_mismatch:
        msg = (
            f"the camera's view no longer matches its reference (registration error {error:.2f} "
            f"> {cfg.moved_max_mismatch:.2f}); re-aim the camera or clear what blocks it, and if "
            "the scene was rearranged on purpose, reset the camera's reference"
        )
        return QualityFlag("moved", "registration_error", error, cfg.moved_max_mismatch, True, msg)
    return _shift_flag(m["shift_x_px"], m["shift_y_px"], shape, cfg)


def _shift_flag(
    dx: float, dy: float, shape: tuple[int, int], cfg: QualityConfig
) -> QualityFlag | None:
    frac = max(abs(dx) / shape[1], abs(dy) / shape[0])
    if frac > cfg.moved_max_fraction:
        msg = (
            f"the camera moved by {frac:.0%} of the frame (x {dx:+.0f} px, y {dy:+.0f} px), more "
            f"than the {cfg.moved_max_fraction:.0%} the zones can follow; re-aim the camera or "
            "redraw the zones, then reset its reference"
        )
        return QualityFlag("moved", "shift_fraction", frac, cfg.moved_max_fraction, True, msg)
    dist = math.hypot(dx, dy)
    if dist >= cfg.moved_min_px:
        msg = (
            f"the camera's view shifted by {dist:.1f} px (x {dx:+.1f}, y {dy:+.1f}); the zones "
            "were moved to follow it, check that the camera mount is tight"
        )
        return QualityFlag("moved", "shift_px", dist, cfg.moved_min_px, False, msg)
    return None


def frozen_flag(max_diff: float, cfg: QualityConfig) -> QualityFlag | None:
    """The camera resent a frame it already sent."""
    if not cfg.enabled("frozen"):
        return None
    msg = (
        "the camera sent the same frame as last time (no pixel changed); its capture is "
        "stuck, restart the camera or its capture service"
    )
    return QualityFlag("frozen", "max_pixel_change", max_diff, cfg.frozen_max_diff, True, msg)


def _clipped_limit(usual: float | None, absolute: float, cfg: QualityConfig) -> float:
    """The absolute limit, tightened to baseline + allowed rise once the camera is warm."""
    if usual is None:
        return absolute
    return min(absolute, usual + cfg.clipped_max_rise)
