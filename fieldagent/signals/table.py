"""The signal table: every signal the agent reports, with its unit and method.

Declared once here; the CLI (``fieldagent signals``), the docs, the JSON
records and the tests all read it.  Per region and image; colour is always
measured *inside* the plant mask, which keeps yellowed and browned tissue
(see :mod:`fieldagent.roi.segment`).  R, G, B are the camera's values scaled
to [0, 1] (not calibrated reflectances), so absolute values compare within a
camera; across cameras compare z-scores and the stress score.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldagent.signals.config import HueBins, SignalsConfig

_BINS = HueBins()
_CFG = SignalsConfig()
_CALLABLE = f"saturation >= {_BINS.min_saturation:g}, value >= {_BINS.min_value:g}"


@dataclass(frozen=True)
class SignalSpec:
    """One signal: its name in records and alerts, its unit, how it is computed."""

    name: str
    unit: str
    method: str


def _z(name: str, what: str) -> SignalSpec:
    return SignalSpec(
        f"z_{name}", "z",
        f"robust z-score of {what} against the zone's healthy reference: (x - reference "
        f"median) / max(1.4826 MAD of the first {_CFG.min_baseline} trusted images, floor), "
        "signed so that positive means stress-like",
    )


SIGNALS: tuple[SignalSpec, ...] = (
    SignalSpec("plant_area_px", "px", "plant-mask pixels x px_scale^2: area in full-resolution "
               "camera pixels, independent of the analysis size"),
    SignalSpec("plant_area_mm2", "mm2", "plant_area_px x mm_per_px^2 (camera's mm_per_px at full "
               "resolution); NaN when no scale is configured"),
    SignalSpec("canopy_cover", "fraction", "plant pixels / zone pixels"),
    SignalSpec("gcc", "fraction", "mean green chromatic coordinate G/(R+G+B) "
               "(Richardson et al. 2007)"),
    SignalSpec("gcc_p90", "fraction", "90th percentile of G/(R+G+B); robust to changing light "
               "(Sonnentag et al. 2012)"),
    SignalSpec("rcc", "fraction", "mean red chromatic coordinate R/(R+G+B)"),
    SignalSpec("exg", "index", "mean excess green 2g - r - b on chromatic coordinates "
               "(Woebbecke et al. 1995)"),
    SignalSpec("gli", "index", "mean green leaf index (2G - R - B)/(2G + R + B), -1..1 "
               "(Louhaichi et al. 2001)"),
    SignalSpec("ngrdi", "index", "mean normalised green-red difference (G - R)/(G + R), -1..1 "
               "(Tucker 1979)"),
    SignalSpec("vari", "index", "median (G - R)/(G + R - B), pixels with |G + R - B| < 0.01 "
               "skipped, clipped to -1..1 (Gitelson et al. 2002)"),
    SignalSpec("tgi", "index", "mean triangular greenness -0.5 [190 (R - G) - 120 (R - B)] with "
               "R, G, B in 0..1 (Hunt et al. 2013; range -95..95, uncalibrated camera "
               "values instead of reflectances)"),
    SignalSpec("hue_mean_deg", "deg", "circular mean of HSV hue over plant pixels with "
               "saturation >= 0.1 (yellow 60, green 120)"),
    SignalSpec("hue_std_deg", "deg", "circular standard deviation sqrt(-2 ln R) of the same hues"),
    SignalSpec("green_fraction", "fraction", f"share of plant pixels with hue in "
               f"[{_BINS.green_from_deg:g}, {_BINS.green_to_deg:g}) deg and {_CALLABLE}"),
    SignalSpec("yellow_fraction", "fraction", f"share of plant pixels with hue in "
               f"[{_BINS.yellow_from_deg:g}, {_BINS.green_from_deg:g}) deg and {_CALLABLE}"),
    SignalSpec("brown_fraction", "fraction", f"share of plant pixels with hue in "
               f"[{_BINS.brown_from_deg:g}, 360) or [0, {_BINS.yellow_from_deg:g}) deg and "
               f"{_CALLABLE}"),
    SignalSpec("other_fraction", "fraction", "1 - green - yellow - brown: blue/purple hues and "
               "pixels too grey or dark to call (glare, deep shade)"),
    SignalSpec("ndvi", "index", "mean (NIR - R)/(NIR + R) inside the plant mask, only with a "
               "registered NIR image (NaN otherwise); uncalibrated, compare within a camera"),
    SignalSpec("growth_rate", "1/day", "relative growth: Theil-Sen slope of ln(plant_area_px) "
               f"vs time over the last {_CFG.growth_window_hours:g} h of trusted images "
               f"(>= {_CFG.growth_min_points} images spanning >= "
               f"{_CFG.growth_min_span_hours:g} h)"),
    SignalSpec("hue_shift_deg", "deg", "signed circular difference hue_mean_deg - the zone's "
               "healthy reference hue; negative = toward yellow/red"),
    _z("gcc_p90", "gcc_p90 (drop = stress)"),
    _z("yellow_fraction", "yellow_fraction (rise = stress)"),
    _z("brown_fraction", "brown_fraction (rise = stress)"),
    _z("hue_shift", "hue_shift_deg (toward yellow = stress)"),
    _z("area", "ln(plant_area_px) (shrink = stress)"),
    SignalSpec("stress_score", "z", "max(0, z_gcc_p90, z_yellow_fraction, z_brown_fraction, "
               "z_hue_shift, z_area): 0 = like the zone's own baseline, > 3 = clearly abnormal; "
               "z_area left out when the image is flagged segmentation_suspect"),
)


def signal_names() -> tuple[str, ...]:
    """All signal names, in table order."""
    return tuple(s.name for s in SIGNALS)
