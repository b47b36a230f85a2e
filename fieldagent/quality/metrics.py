"""Image quality metrics: pure functions on the analysis image.

Each takes the image first: RGB float in [0, 1], shape (H, W, 3). Those that
only need brightness also accept a grayscale (H, W) array, so a caller that
needs several metrics converts to gray once. Costs stay at a few milliseconds
at analysis scale (long side ~1024 px): sharpness is judged on a central crop
at full resolution (shrinking would hide mild defocus), per-pixel colour
statistics on a 2x subsample.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2gray
from skimage.measure import blur_effect

from fieldagent.quality.registration import displacement

__all__ = [
    "blur_score",
    "clipped_fractions",
    "dark_channel_mean",
    "displacement",
    "frame_fingerprint",
    "laplacian_variance",
    "luminance",
    "mean_luminance",
    "rms_contrast",
    "saturated_fraction",
]

# Sharpness is measured on this central share of the width and height (16% of the
# area): blur_effect is the costliest metric, and the corners of a wide lens are
# softer and often show only the tray rim. Sharp real photos: 0.19-0.46.
SHARPNESS_CROP = 0.4
# Frames at least this tall are subsampled 2x for the per-pixel colour statistics
# (dark channel, saturation); small ones would lose their darkest pixels to it.
_SUBSAMPLE_FROM = 600
# blur_effect's re-blur width; values are only comparable for one width.
_BLUR_H_SIZE = 11


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luma as ``skimage.color.rgb2gray``; a 2-D input is taken as gray already."""
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        return arr.astype(np.float32, copy=False)
    _require_rgb(arr)
    return np.asarray(rgb2gray(arr.astype(np.float32, copy=False)), dtype=np.float32)


def mean_luminance(rgb: np.ndarray) -> float:
    """Mean brightness in [0, 1]; a night or lights-off frame sits near 0."""
    return float(np.mean(luminance(rgb), dtype=np.float64))


def clipped_fractions(
    rgb: np.ndarray, *, low: float = 0.02, high: float = 0.98
) -> tuple[float, float]:
    """Shares of pixels whose luminance is crushed (<= ``low``) and blown out (>= ``high``)."""
    gray = luminance(rgb)
    n = float(max(gray.size, 1))
    return float(np.count_nonzero(gray <= low)) / n, float(np.count_nonzero(gray >= high)) / n


def saturated_fraction(
    rgb: np.ndarray, *, mask: np.ndarray | None = None, high: float = 0.98
) -> float:
    """Share of (masked) pixels with at least one colour channel blown out (>= ``high``).

    Meant for plant pixels: a white backdrop may clip harmlessly, a leaf that
    clips its green channel has lost the colour the plant signals are made of.
    """
    arr = np.asarray(rgb, dtype=np.float32)
    _require_rgb(arr)
    step = _subsample_step(arr)
    sub = arr[::step, ::step]
    blown = (sub[..., 0] >= high) | (sub[..., 1] >= high) | (sub[..., 2] >= high)
    if mask is None:
        return float(np.count_nonzero(blown)) / max(blown.size, 1)
    selected = np.asarray(mask, dtype=bool)[::step, ::step]
    total = np.count_nonzero(selected)
    return float(np.count_nonzero(blown & selected)) / total if total else 0.0


def blur_score(rgb: np.ndarray, *, crop: float = SHARPNESS_CROP) -> float:
    """``skimage.measure.blur_effect`` on the central crop: 0 sharp .. 1 blurred.

    It compares the image with a re-blurred copy of itself, so unlike gradient
    energy it barely reacts to brightness or haze: a blur verdict means blur.
    """
    full = luminance(rgb)
    gray = _center_crop(full, crop)
    if min(gray.shape) < 2 * _BLUR_H_SIZE:
        gray = full  # a thumbnail-sized frame: use all of it
    if min(gray.shape) < 2 * _BLUR_H_SIZE:
        raise ValueError(f"image of shape {full.shape} is too small to judge blur")
    return float(blur_effect(gray, h_size=_BLUR_H_SIZE))


def laplacian_variance(rgb: np.ndarray, *, crop: float = SHARPNESS_CROP) -> float:
    """Variance of the Laplacian on the central crop: fine-detail energy.

    It also falls with darkness and haze and depends on the scene, so it is only
    meaningful as a ratio to the same camera's own baseline, never as an absolute.
    """
    gray = _center_crop(luminance(rgb), crop)
    return float(np.var(ndi.laplace(gray), dtype=np.float64))


def rms_contrast(rgb: np.ndarray) -> float:
    """Standard deviation of luminance; fog, condensation and a veiled lens lower it."""
    return float(np.std(luminance(rgb), dtype=np.float64))


def dark_channel_mean(rgb: np.ndarray, *, patch: int = 15) -> float:
    """Mean of the dark channel (He et al.): per-pixel minimum over RGB, then over a patch.

    In a clear scene most patches hold a dark pixel (shadow, soil, deep green);
    haze adds scattered light everywhere and lifts it. For speed the minimum is
    taken over non-overlapping ``patch``-px blocks, of a 2x subsample when the
    frame is large; this tracks the sliding-window version within about 0.01.
    """
    arr = np.asarray(rgb, dtype=np.float32)
    _require_rgb(arr)
    step = _subsample_step(arr)
    sub = arr[::step, ::step]
    darkest = np.minimum(np.minimum(sub[..., 0], sub[..., 1]), sub[..., 2])
    size = max(1, min(round(patch / step), *darkest.shape))
    h, w = darkest.shape[0] // size * size, darkest.shape[1] // size * size
    blocks = darkest[:h, :w].reshape(h // size, size, w // size, size)
    return float(blocks.min(axis=(1, 3)).mean(dtype=np.float64))


def frame_fingerprint(rgb: np.ndarray, *, step: int = 4) -> bytes:
    """A 16-byte digest of the image at 8 bits, sampled every ``step`` px.

    A working sensor never returns two bit-identical frames (noise alone
    changes many sampled pixels), so equal digests mean an old frame was resent.
    """
    sample = np.asarray(rgb)[::step, ::step]
    quantised = np.clip(np.rint(sample * 255.0), 0, 255).astype(np.uint8)
    digest = hashlib.blake2b(quantised.tobytes(), digest_size=16)
    digest.update(repr(quantised.shape).encode())
    return digest.digest()


def _center_crop(image: np.ndarray, share: float) -> np.ndarray:
    if not 0.0 < share <= 1.0:
        raise ValueError(f"crop share must be in (0, 1], got {share}")
    h, w = image.shape[:2]
    dh, dw = round(h * (1 - share) / 2), round(w * (1 - share) / 2)
    return image[dh : h - dh, dw : w - dw]


def _subsample_step(arr: np.ndarray) -> int:
    """2 for frames large enough that every other pixel tells the same story, else 1."""
    return 2 if min(arr.shape[:2]) >= _SUBSAMPLE_FROM else 1


def _require_rgb(arr: np.ndarray) -> None:
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
