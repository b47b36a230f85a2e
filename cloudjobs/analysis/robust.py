"""Robust statistics: a single bad day or a single odd site must not decide a verdict.

Slopes are Theil-Sen (the median of pairwise slopes, shared with the edge's growth rate);
spread is the median absolute deviation scaled by 1.4826 so that it equals the standard
deviation for normal data. Every scale has a floor: when peers agree to the fourth decimal,
a difference nobody would act on must not become "ten sigma".
"""

from __future__ import annotations

import math

import numpy as np

from fieldagent.signals.baseline import theil_sen_slope

MAD_TO_SD = 1.4826

__all__ = ["MAD_TO_SD", "robust_scale", "robust_z", "theil_sen_slope"]


def robust_scale(values: np.ndarray, *, floor: float) -> float:
    """1.4826 x MAD of the finite ``values``, never below ``floor``; NaN when none are finite."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan
    mad = float(np.median(np.abs(finite - np.median(finite))))
    return max(MAD_TO_SD * mad, floor)


def robust_z(value: float, reference: np.ndarray, *, floor: float) -> float:
    """How many robust standard deviations ``value`` lies from the median of ``reference``."""
    finite = reference[np.isfinite(reference)]
    if finite.size == 0 or not math.isfinite(value):
        return math.nan
    return (value - float(np.median(finite))) / robust_scale(finite, floor=floor)
