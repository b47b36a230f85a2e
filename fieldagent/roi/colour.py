"""Per-pixel colour transforms shared by segmentation and the signals.

Everything works on ``(..., 3)`` float arrays in [0, 1] (an image or an ``(N, 3)``
list of masked pixels) and returns float32, so the signals can run the same
formulas on only the plant pixels.  Written with plain numpy instead of
``skimage.color.rgb2hsv`` because that one works in float64 and costs several
times more on a full analysis frame.
"""

from __future__ import annotations

import numpy as np

# Below this channel sum (of three [0, 1] channels) chromatic coordinates are noise.
_EPS = np.float32(1e-6)


def planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R, G, B as contiguous float32 planes: per-channel maths on them is several times
    faster than on the interleaved (..., 3) layout or reductions over its last axis."""
    arr = np.asarray(rgb, dtype=np.float32)
    if arr.shape[-1] != 3:
        raise ValueError(f"expected RGB values in the last axis, got shape {arr.shape}")
    red, green, blue = np.ascontiguousarray(np.moveaxis(arr, -1, 0))
    return red, green, blue


def chromatic(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chromatic coordinates r, g, b = R/(R+G+B), ...: brightness removed, colour kept."""
    red, green, blue = planes(rgb)
    inv = np.float32(1.0) / np.maximum(red + green + blue, _EPS)
    return red * inv, green * inv, blue * inv


def exg(rgb: np.ndarray) -> np.ndarray:
    """Excess green ExG = 2g - r - b on chromatic coordinates (Woebbecke et al. 1995)."""
    r, g, b = chromatic(rgb)
    return np.float32(2.0) * g - r - b


def exgr(rgb: np.ndarray) -> np.ndarray:
    """ExG - ExR with ExR = 1.4r - g (Meyer & Neto 2008); > 0 is vegetation."""
    r, g, b = chromatic(rgb)
    return np.float32(3.0) * g - np.float32(2.4) * r - b


def hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees [0, 360), saturation and value in [0, 1] (HSV hexcone, as Pillow/skimage).

    Grey pixels (no chroma) get hue 0; callers that average hue drop them by saturation.
    """
    return hsv_planes(*planes(rgb))


def hsv_planes(
    red: np.ndarray, green: np.ndarray, blue: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hsv` on separate channel arrays of any (equal) shape."""
    value = np.maximum(np.maximum(red, green), blue)
    delta = value - np.minimum(np.minimum(red, green), blue)
    safe = np.maximum(delta, _EPS)
    sat = delta / np.maximum(value, _EPS)
    hue = np.where(
        value == red,
        (green - blue) / safe,
        np.where(value == green, (blue - red) / safe + 2.0, (red - green) / safe + 4.0),
    )
    hue *= np.float32(60.0)
    hue[hue < 0] += np.float32(360.0)
    hue[delta <= _EPS] = 0.0
    return hue.astype(np.float32, copy=False), sat, value
