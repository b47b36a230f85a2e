"""Colour indices of plant pixels: pure, vectorised, NaN-safe.

Every public function takes ``rgb`` (an ``(H, W, 3)`` image or ``(N, 3)``
pixels, float in [0, 1]) and an optional boolean ``mask`` selecting the plant
pixels, and returns a float.  No pixel -> ``nan``, never an exception.  The
``*_of`` twins take :class:`Pixels`, the already-selected pixels, so
:func:`fieldagent.signals.compute.compute_signals` extracts them once.
Formulas and references are in :mod:`fieldagent.signals.table`.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from fieldagent.roi.colour import hsv_planes
from fieldagent.signals.config import HueBins

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
NAN = float("nan")
# Channel sums below this (three [0, 1] channels) carry no colour: black pixels are skipped.
_MIN_SUM = np.float32(1e-3)
# Hue of nearly grey pixels is noise; circular hue statistics skip them.
HUE_MIN_SATURATION = 0.1
FRACTIONS = ("green_fraction", "yellow_fraction", "brown_fraction", "other_fraction")
# Hunt et al. (2013) TGI wavelengths (nm): red, green, blue.
_TGI_LR, _TGI_LG, _TGI_LB = 670.0, 550.0, 480.0


class Pixels:
    """The plant pixels of one region, with the derived channels computed once.

    Each index needs the same chromatic coordinates or HSV values; computing
    them here once keeps :func:`~fieldagent.signals.compute.compute_signals`
    to a few passes over the pixels.
    """

    def __init__(self, red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> None:
        self.red, self.green, self.blue = red, green, blue

    @classmethod
    def of(cls, rgb: np.ndarray, mask: np.ndarray | None = None) -> Pixels:
        """The selected pixels of an ``(..., 3)`` array (all of them without a mask)."""
        arr = np.asarray(rgb, dtype=np.float32)
        if arr.shape[-1] != 3:
            raise ValueError(f"expected RGB values in the last axis, got shape {arr.shape}")
        if mask is None:
            red, green, blue = np.ascontiguousarray(arr.reshape(-1, 3).T)
            return cls(red, green, blue)
        # one boolean selection per channel view: ~4x cheaper than selecting (N, 3)
        # pixels and transposing them into planes
        keep = np.asarray(mask, dtype=bool)
        return cls(arr[..., 0][keep], arr[..., 1][keep], arr[..., 2][keep])

    @property
    def size(self) -> int:
        return int(self.red.size)

    @cached_property
    def chroma(self) -> Planes:
        """Chromatic coordinates r, g, b of the pixels that are not black."""
        total = self.red + self.green + self.blue
        keep = total > _MIN_SUM
        inv = np.float32(1.0) / total[keep]
        return self.red[keep] * inv, self.green[keep] * inv, self.blue[keep] * inv

    @cached_property
    def hsv(self) -> Planes:
        """Hue (degrees), saturation and value of every pixel."""
        return hsv_planes(self.red, self.green, self.blue)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values, dtype=np.float64)) if values.size else NAN


def _ratio(num: np.ndarray, den: np.ndarray, min_den: float = 1e-3) -> np.ndarray:
    """num / den where |den| is large enough to mean something; other pixels are dropped."""
    keep = np.abs(den) > min_den
    return np.asarray(num[keep] / den[keep])


def gcc_of(px: Pixels, *, percentile: float | None = None) -> float:
    """Green chromatic coordinate G/(R+G+B): mean, or the given percentile."""
    g = px.chroma[1]
    if percentile is None or not g.size:
        return _mean(g)
    return float(np.percentile(g, percentile))


def rcc_of(px: Pixels) -> float:
    """Red chromatic coordinate R/(R+G+B), mean."""
    return _mean(px.chroma[0])


def exg_of(px: Pixels) -> float:
    """Excess green 2g - r - b on chromatic coordinates, mean."""
    r, g, b = px.chroma
    return _mean(2.0 * g - r - b)


def gli_of(px: Pixels) -> float:
    """Green leaf index (2G - R - B) / (2G + R + B), mean."""
    red, green, blue = px.red, px.green, px.blue
    return _mean(_ratio(2.0 * green - red - blue, 2.0 * green + red + blue))


def ngrdi_of(px: Pixels) -> float:
    """Normalised green-red difference (G - R) / (G + R), mean."""
    return _mean(_ratio(px.green - px.red, px.green + px.red))


def vari_of(px: Pixels) -> float:
    """Visible atmospherically resistant index (G - R) / (G + R - B): median, clipped to [-1, 1].

    The denominator crosses zero on some pixels, so the mean would explode.
    """
    values = _ratio(px.green - px.red, px.green + px.red - px.blue, min_den=0.01)
    return float(np.clip(np.median(values), -1.0, 1.0)) if values.size else NAN


def tgi_of(px: Pixels) -> float:
    """Triangular greenness index -0.5 [190 (R - G) - 120 (R - B)], mean, on [0, 1] values."""
    red, green, blue = px.red, px.green, px.blue
    tgi = -0.5 * ((_TGI_LR - _TGI_LB) * (red - green) - (_TGI_LR - _TGI_LG) * (red - blue))
    return _mean(tgi)


def hue_stats_of(px: Pixels) -> tuple[float, float]:
    """Circular mean and circular standard deviation of HSV hue, in degrees.

    Hue wraps at 360, so 350 and 10 average to 0, not 180.  Pixels with
    saturation under ``HUE_MIN_SATURATION`` (grey, no meaningful hue) are skipped.
    """
    hue, sat, _ = px.hsv
    rad = np.deg2rad(hue[sat >= HUE_MIN_SATURATION])
    if not rad.size:
        return NAN, NAN
    c = float(np.mean(np.cos(rad), dtype=np.float64))
    s = float(np.mean(np.sin(rad), dtype=np.float64))
    length = math.hypot(c, s)
    mean = math.degrees(math.atan2(s, c)) % 360.0
    std = math.degrees(math.sqrt(-2.0 * math.log(length))) if length > 1e-12 else NAN
    return mean, std


def colour_fractions_of(px: Pixels, bins: HueBins | None = None) -> dict[str, float]:
    """Shares of pixels that are green, yellow, brown and other (they sum to 1).

    Bins are the :class:`~fieldagent.signals.config.HueBins` (documented there and
    in the signal table); pixels too grey or too dark to call are 'other'.
    """
    b = bins or HueBins()
    if not px.size:
        return dict.fromkeys(FRACTIONS, NAN)
    hue, sat, val = px.hsv
    callable_ = (sat >= b.min_saturation) & (val >= b.min_value)
    green = callable_ & (hue >= b.green_from_deg) & (hue < b.green_to_deg)
    yellow = callable_ & (hue >= b.yellow_from_deg) & (hue < b.green_from_deg)
    brown = callable_ & ((hue < b.yellow_from_deg) | (hue >= b.brown_from_deg))
    n = float(px.size)
    g, y, br = float(green.sum()) / n, float(yellow.sum()) / n, float(brown.sum()) / n
    return dict(zip(FRACTIONS, (g, y, br, max(0.0, 1.0 - g - y - br)), strict=True))


def ndvi_of(red: np.ndarray, nir: np.ndarray) -> float:
    """Normalised difference vegetation index (NIR - R) / (NIR + R), mean."""
    return _mean(_ratio(nir - red, nir + red))


def gcc(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean green chromatic coordinate of the masked pixels."""
    return gcc_of(Pixels.of(rgb, mask))


def gcc_p90(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """90th percentile of the green chromatic coordinate (robust to lighting changes)."""
    return gcc_of(Pixels.of(rgb, mask), percentile=90.0)


def rcc(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean red chromatic coordinate."""
    return rcc_of(Pixels.of(rgb, mask))


def exg(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean excess green on chromatic coordinates."""
    return exg_of(Pixels.of(rgb, mask))


def gli(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean green leaf index."""
    return gli_of(Pixels.of(rgb, mask))


def ngrdi(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean normalised green-red difference index."""
    return ngrdi_of(Pixels.of(rgb, mask))


def vari(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Median VARI, clipped to [-1, 1]."""
    return vari_of(Pixels.of(rgb, mask))


def tgi(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean triangular greenness index."""
    return tgi_of(Pixels.of(rgb, mask))


def hue_stats(rgb: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Circular mean and standard deviation of hue (degrees)."""
    return hue_stats_of(Pixels.of(rgb, mask))


def colour_fractions(
    rgb: np.ndarray, mask: np.ndarray | None = None, *, bins: HueBins | None = None
) -> dict[str, float]:
    """Green / yellow / brown / other shares of the masked pixels."""
    return colour_fractions_of(Pixels.of(rgb, mask), bins)


def ndvi(rgb: np.ndarray, nir: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean NDVI from the red channel and a registered NIR image of the same shape."""
    red = Pixels.of(rgb, mask).red
    band = np.asarray(nir, dtype=np.float32)
    if band.ndim == 3:
        band = band[..., 0]
    nir_px = band.reshape(-1) if mask is None else band[np.asarray(mask, dtype=bool)]
    return ndvi_of(red, nir_px)
