"""Frame-to-reference registration: how far the camera's view has moved.

Two paths. Without a mask, Hann-windowed phase correlation
(``skimage.registration.phase_cross_correlation``) with ``upsample_factor`` for
sub-pixel precision. With a mask (True = background, not plant), skimage's masked
normalised cross-correlation on a coarse copy finds the integer shift, and
Lucas-Kanade steps on the masked pixels make it sub-pixel (the masked path of
skimage has no sub-pixel mode). Masking matters: plants grow and sway in the
fans' air, the tray and bench do not. The masked path also measured more robust
than plain phase correlation on the real photos (plain backgrounds, shifts of a
third of the frame), so the checker always uses it, with an all-True mask when
it knows no background.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from skimage.registration import phase_cross_correlation

# Masked registration finds the integer shift on a copy whose long side is about this.
_COARSE_SIDE = 128
_LK_STEPS = 5
_LK_DONE = 0.02
# Fewer usable pixels than this and the registration is declared failed.
_MIN_VALID = 64
# Registration uses every _POINT_STEP-th row and column of the overlap.
_POINT_STEP = 2


def displacement(
    reference_gray: np.ndarray,
    gray: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
    upsample: int = 10,
) -> tuple[float, float, float]:
    """How far the scene moved in the image from ``reference_gray`` to ``gray``: (dy, dx, error).

    (dy, dx) is the content's apparent motion in px (y down, x right): add it to
    zones drawn on the reference. ``mask`` marks usable (background) pixels of
    ``gray``, ``reference_mask`` those of the reference (default: the same).
    ``error`` is 1 - correlation of the aligned fine detail: ~0 same view, ~1 none.
    """
    ref = np.asarray(reference_gray, dtype=np.float32)
    cur = np.asarray(gray, dtype=np.float32)
    if ref.shape != cur.shape or ref.ndim != 2:
        raise ValueError(f"frames must be 2-D and of one shape, got {ref.shape} and {cur.shape}")
    if mask is None and reference_mask is None:
        return _phase_shift(ref, cur, upsample)
    cur_mask, ref_mask = _masks(mask, reference_mask, ref.shape)
    return _masked_shift(ref, cur, ref_mask, cur_mask)


def _masks(
    mask: np.ndarray | None, reference_mask: np.ndarray | None, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    cur_mask = np.asarray(mask if mask is not None else reference_mask, dtype=bool)
    ref_mask = np.asarray(reference_mask if reference_mask is not None else cur_mask, dtype=bool)
    if cur_mask.shape != shape or ref_mask.shape != shape:
        raise ValueError(f"masks must have the frames' shape {shape}")
    if not ref_mask.any() or not cur_mask.any():
        raise ValueError("the background mask is empty: there is nothing to register on")
    return cur_mask, ref_mask


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink by averaging ``factor`` x ``factor`` blocks; leftover edge pixels are dropped."""
    arr = np.asarray(image, dtype=np.float32)
    if factor <= 1:
        return arr
    h, w = arr.shape[0] // factor, arr.shape[1] // factor
    if h < 1 or w < 1:
        raise ValueError(f"image of shape {arr.shape} is too small to shrink by {factor}")
    out = np.zeros((h, w, *arr.shape[2:]), dtype=np.float32)
    for dy in range(factor):
        for dx in range(factor):
            out += arr[dy : h * factor : factor, dx : w * factor : factor]
    out *= np.float32(1.0 / (factor * factor))
    return out


def _phase_shift(ref: np.ndarray, cur: np.ndarray, upsample: int) -> tuple[float, float, float]:
    """Windowed, so the frame borders (where content enters and leaves) do not vote for 0."""
    win = np.outer(np.hanning(ref.shape[0]), np.hanning(ref.shape[1])).astype(np.float32)
    a, b = (ref - ref.mean()) * win, (cur - cur.mean()) * win
    shift, _, _ = phase_cross_correlation(a, b, upsample_factor=max(1, upsample))
    everywhere = np.ones(ref.shape, dtype=bool)
    error = _detail_mismatch(ref, cur, everywhere, everywhere, shift)
    return -float(shift[0]), -float(shift[1]), error


def _masked_shift(
    ref: np.ndarray, cur: np.ndarray, ref_mask: np.ndarray, cur_mask: np.ndarray
) -> tuple[float, float, float]:
    """Masked NCC on a coarse copy for the integer shift, then Lucas-Kanade for sub-pixel."""
    factor = max(1, math.ceil(max(ref.shape) / _COARSE_SIDE))
    small = [block_mean(a, factor) for a in (ref, cur)]
    masks = [block_mean(m, factor) > 0.5 for m in (ref_mask, cur_mask)]
    if not masks[0].any() or not masks[1].any():
        return 0.0, 0.0, 1.0
    coarse, _, _ = phase_cross_correlation(
        small[0], small[1], reference_mask=masks[0], moving_mask=masks[1], overlap_ratio=0.3
    )
    shift = np.asarray(coarse, dtype=np.float64)
    if factor > 1:
        shift = _refine_lk(small[0], small[1], masks[0], masks[1], shift) * factor
    shift = _refine_lk(ref, cur, ref_mask, cur_mask, shift)
    error = _detail_mismatch(ref, cur, ref_mask, cur_mask, shift)
    return -float(shift[0]), -float(shift[1]), error


def _refine_lk(
    ref: np.ndarray, cur: np.ndarray, ref_mask: np.ndarray, cur_mask: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    """Gauss-Newton (Lucas-Kanade) steps over the pixels that are background in both frames."""
    ys, xs = _overlap_points(ref_mask, cur_mask, shift)
    if ys.size < _MIN_VALID:
        return shift
    target = ref[ys, xs]
    vy = (ref[ys + 1, xs] - ref[ys - 1, xs]) * np.float32(0.5)
    vx = (ref[ys, xs + 1] - ref[ys, xs - 1]) * np.float32(0.5)
    hessian = np.array([[_dot(vy, vy), _dot(vy, vx)], [_dot(vy, vx), _dot(vx, vx)]])
    if abs(np.linalg.det(hessian)) < 1e-12:
        return shift
    shift = shift.copy()
    for _ in range(_LK_STEPS):
        warped = _sample(cur, ys, xs, shift)
        diff = _matched(warped, target) - target
        step = np.linalg.solve(hessian, np.array([_dot(vy, diff), _dot(vx, diff)]))
        shift += np.clip(step, -1.0, 1.0)
        if float(np.abs(step).max()) < _LK_DONE:
            break
    return shift


def _detail_mismatch(
    ref: np.ndarray, cur: np.ndarray, ref_mask: np.ndarray, cur_mask: np.ndarray, shift: np.ndarray
) -> float:
    """1 - correlation of the aligned fine detail (band-pass: Laplacian of a 3x3 mean).

    Fine detail, not raw brightness: a passing shadow or fog keeps the texture
    (error stays < 0.15 on the real photos) while another scene shares none
    of it (error > 0.85), even at the shift that best matches it.
    """
    ys, xs = _overlap_points(ref_mask, cur_mask, shift)
    if ys.size < _MIN_VALID:
        return 1.0
    return _mismatch(_detail(ref)[ys, xs], _sample(_detail(cur), ys, xs, shift))


def _overlap_points(
    ref_mask: np.ndarray, cur_mask: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reference pixels that are background in both frames and whose match lies inside.

    Every other row and column only: a quarter of the pixels pins a translation
    just as well. Frame-border pixels are left out so neighbours always exist.
    """
    iy, ix = round(float(shift[0])), round(float(shift[1]))
    valid = ref_mask & _roll(cur_mask, iy, ix, False)
    ys, xs = np.nonzero(valid[1:-1:_POINT_STEP, 1:-1:_POINT_STEP])
    ys, xs = ys * _POINT_STEP + 1, xs * _POINT_STEP + 1
    h, w = ref_mask.shape
    src_y, src_x = ys - float(shift[0]), xs - float(shift[1])
    inside = (src_y >= 0) & (src_y <= h - 1) & (src_x >= 0) & (src_x <= w - 1)
    return ys[inside], xs[inside]


def _sample(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at (ys, xs) - shift: the frame moved onto the reference.

    The shift is one translation, so the interpolation weights are four scalars
    and sampling is four gathers (much cheaper than ``map_coordinates``).
    """
    h, w = image.shape
    oy, ox = math.floor(-float(shift[0])), math.floor(-float(shift[1]))
    fy, fx = np.float32(-float(shift[0]) - oy), np.float32(-float(shift[1]) - ox)
    y0, x0 = np.clip(ys + oy, 0, h - 1), np.clip(xs + ox, 0, w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    top = (1 - fx) * image[y0, x0] + fx * image[y0, x1]
    bottom = (1 - fx) * image[y1, x0] + fx * image[y1, x1]
    return np.asarray((1 - fy) * top + fy * bottom, dtype=np.float32)


def _detail(image: np.ndarray) -> np.ndarray:
    """Laplacian of a 3x3 box mean: fine texture, with pixel noise damped; border stays 0."""
    smooth = ndi.uniform_filter(image, 3)
    out = np.zeros_like(image)
    out[1:-1, 1:-1] = 4 * smooth[1:-1, 1:-1] - smooth[:-2, 1:-1] - smooth[2:, 1:-1]
    out[1:-1, 1:-1] -= smooth[1:-1, :-2] + smooth[1:-1, 2:]
    return out


def _matched(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``values`` with the mean and spread of ``target``.

    Lucas-Kanade assumes equal brightness; matching gain and offset on the
    overlap first keeps fog or a change of light from reading as motion.
    """
    spread = float(values.std())
    if spread <= 0.0:
        return values
    scale = np.float32(float(target.std()) / spread)
    return (values - np.float32(values.mean())) * scale + np.float32(target.mean())


def _roll(image: np.ndarray, dy: int, dx: int, fill: float | bool) -> np.ndarray:
    """Integer shift without wrap-around: out[y, x] = image[y - dy, x - dx], else ``fill``."""
    h, w = image.shape
    out = np.full_like(image, fill)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def _mismatch(a: np.ndarray, b: np.ndarray) -> float:
    """1 - Pearson correlation of aligned pixels, in [0, 1] (anti-correlation counts as 1)."""
    if a.size < _MIN_VALID:
        return 1.0
    a = a - np.float32(a.mean(dtype=np.float64))
    b = b - np.float32(b.mean(dtype=np.float64))
    denom = math.sqrt(_dot(a, a) * _dot(b, b))
    if denom <= 0.0:
        return 1.0
    return float(np.clip(1.0 - _dot(a, b) / denom, 0.0, 1.0))


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of products without BLAS: threaded BLAS stalls on a busy edge CPU."""
    return float(np.sum(a * b, dtype=np.float64))
