"""White balance without a card: the background's colour against this camera's usual light.

A plain grey-world balance would turn a brown soil grey, and with it shift
every leaf toward blue-green (a yellowing leaf would read green). Instead the
background's colour in this frame is compared with the same background under
the camera's *usual* light, and only that change of illuminant is undone
(a von Kries diagonal correction). The usual light is the median background
colour of the brighter half of the camera's recent frames: daylight
dominates those, dawn, dusk and lamp frames do not.
"""

from __future__ import annotations

import math

import numpy as np

# Background pixels: not greenish (plants), not crushed or blown out.
_MIN_VALUE, _MAX_VALUE = 0.04, 0.96
_MIN_PIXELS = 200
_STEP = 4
_LUMA = np.array([0.2125, 0.7154, 0.0721])


def background_colour(
    image: np.ndarray, *, gains: np.ndarray | None = None
) -> tuple[np.ndarray, float] | None:
    """(chromaticity (3,), mean luminance) of the frame's background, or None if too little.

    Chromaticity is each channel's median over background pixels divided by the
    mean of the three medians: 1, 1, 1 is neutral. Background here means pixels
    that are not greenish (excess green 2G - R - B <= 0) and neither crushed nor
    clipped, on a 4x subsample: cheap, and independent of the segmentation.
    ``gains`` (a first estimate of the balance) are applied before pixels are
    chosen, so the same pixels count as background under warm and cool light.
    """
    sub = np.asarray(image, dtype=np.float32)[::_STEP, ::_STEP].reshape(-1, 3)
    pick = sub if gains is None else sub * np.asarray(gains, dtype=np.float32)
    r, g, b = pick[:, 0], pick[:, 1], pick[:, 2]
    ok = (2 * g - r - b <= 0) & (sub.max(axis=1) < _MAX_VALUE) & (sub.min(axis=1) > _MIN_VALUE)
    if np.count_nonzero(ok) < _MIN_PIXELS:
        return None
    med = np.median(sub[ok], axis=0).astype(np.float64)
    if med.min() <= 0:
        return None
    lum = float(np.mean(sub @ np.array([0.2125, 0.7154, 0.0721], np.float32)))
    return med / med.mean(), lum


def usual_colour(history: list[tuple[np.ndarray, float]]) -> np.ndarray | None:
    """The camera's usual background chromaticity: median over the brighter half of frames."""
    if not history:
        return None
    lums = np.array([lum for _, lum in history])
    bright = [c for c, lum in history if lum >= np.median(lums)]
    med = np.median(np.array(bright), axis=0)
    return np.asarray(med / med.mean(), dtype=np.float64)


def balance_gains(current: np.ndarray, usual: np.ndarray, *, max_gain: float) -> np.ndarray:
    """Per-channel gains that bring ``current`` back to ``usual``, brightness unchanged.

    Normalised so the Rec. 709 luminance of a grey pixel is kept (white balance
    corrects colour; exposure is the quality check's business). Each gain is
    limited to [1/max_gain, max_gain].
    """
    gains = np.asarray(usual, dtype=np.float64) / np.asarray(current, dtype=np.float64)
    gains /= float(gains @ _LUMA)
    return np.clip(gains, 1.0 / max_gain, max_gain)


def soften(gains: np.ndarray, *, start: float, full: float) -> np.ndarray:
    """Gains eased in with the tint: none below ``start``, all of them from ``full``.

    Under the camera's usual light the measured tint is estimation noise
    (a growing plant, a bit of shadow): correcting it would only add noise to
    every colour signal. Between the two the gains are raised to a power
    rising from 0 to 1, so the correction has no jump.
    """
    t = tint(gains)
    if t >= full:
        return np.asarray(gains, dtype=np.float64)
    if t <= start:
        return np.ones(3, dtype=np.float64)
    weight = math.log(t / start) / math.log(full / start)
    out = np.asarray(gains, dtype=np.float64) ** weight
    return np.asarray(out / float(out @ _LUMA), dtype=np.float64)


def apply_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Multiply each channel by its gain, clipped to [0, 1], float32."""
    out = np.asarray(image, dtype=np.float32) * np.asarray(gains, dtype=np.float32)
    return np.clip(out, 0.0, 1.0, out=out)


def tint(gains: np.ndarray) -> float:
    """How coloured the light was: largest over smallest gain (1 = the usual light)."""
    g = np.asarray(gains, dtype=np.float64)
    return float(g.max() / g.min())
