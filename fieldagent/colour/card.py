"""A colour card in view: sample its patches, fit an affine colour correction to them.

The fit is PlantCV's affine least-squares transform: each corrected colour is
a 3x4 matrix times ``(r, g, b, 1)``, chosen so the card's measured patches
land as close as possible to their reference values. An affine map undoes a
change of illuminant colour, intensity and a small offset (flare) at once.

Detection is deliberately simple and robust: the card's box is configured,
patch centres are sampled on a grid inside it, and a patch whose pixels are
not uniform (something covers it) or are clipped is left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# X-Rite ColorChecker Classic, sRGB 0-255 (D50 values adapted to sRGB D65),
# row by row from the top-left "dark skin" patch to the bottom-right black.
CARD_REFERENCE: tuple[tuple[int, int, int], ...] = (
    (115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177),
    (103, 189, 170), (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108),
    (157, 188, 64), (224, 163, 46), (56, 61, 150), (70, 148, 73), (175, 54, 60),
    (231, 199, 31), (187, 86, 149), (8, 133, 161), (243, 243, 242), (200, 200, 200),
    (160, 160, 160), (122, 122, 121), (85, 85, 85), (52, 52, 52),
)  # fmt: skip
# Share of each patch cell (per side) that is sampled: the centre, clear of borders.
_SAMPLE_SHARE = 0.4
_CLIP_LOW, _CLIP_HIGH = 0.01, 0.985


@dataclass(frozen=True)
class PatchSamples:
    """Mean colour, spread (std) and clipping of each patch, row by row."""

    means: np.ndarray  # (n, 3) in [0, 1]
    spreads: np.ndarray  # (n,) std over the patch's pixels and channels
    clipped: np.ndarray  # (n,) bool: a channel is at the sensor's floor or ceiling


@dataclass(frozen=True)
class CardFit:
    """The affine correction fitted to the card, and how well it fits.

    ``matrix`` is (4, 3): ``corrected = [r, g, b, 1] @ matrix``. ``residual`` is
    the RMS distance (0-1 sRGB) between corrected patches and their references,
    over the patches used. ``ok`` is False, with a ``reason``, when the fit must
    not be trusted.
    """

    matrix: np.ndarray
    residual: float
    patches_used: int
    ok: bool
    reason: str = ""


def patch_boxes(
    shape: tuple[int, int], box: tuple[float, float, float, float], rows: int, cols: int
) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (x0, y0, x1, y1) of the sampled centre of each patch, row by row."""
    h, w = shape
    x0, y0, x1, y1 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
    half_w, half_h = max(cw * _SAMPLE_SHARE / 2, 0.5), max(ch * _SAMPLE_SHARE / 2, 0.5)
    out = []
    for r in range(rows):
        for c in range(cols):
            cx, cy = x0 + (c + 0.5) * cw, y0 + (r + 0.5) * ch
            out.append((int(cx - half_w), int(cy - half_h),
                        max(int(cx + half_w), int(cx - half_w) + 1),
                        max(int(cy + half_h), int(cy - half_h) + 1)))
    return out


def sample_patches(
    image: np.ndarray, box: tuple[float, float, float, float], rows: int, cols: int
) -> PatchSamples:
    """Mean and spread of each patch centre of a card in ``box`` (fractions of the frame)."""
    rgb = np.asarray(image, dtype=np.float32)
    boxes = patch_boxes(rgb.shape[:2], box, rows, cols)
    means = np.empty((len(boxes), 3), np.float64)
    spreads = np.empty(len(boxes), np.float64)
    clipped = np.empty(len(boxes), bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        patch = rgb[y0:y1, x0:x1].reshape(-1, 3)
        means[i] = patch.mean(axis=0)
        spreads[i] = float(patch.std(axis=0).max())
        clipped[i] = bool(means[i].max() >= _CLIP_HIGH or means[i].min() <= _CLIP_LOW)
    return PatchSamples(means, spreads, clipped)


def fit_card(
    samples: PatchSamples,
    reference: np.ndarray,
    *,
    max_residual: float = 0.05,
    min_patches: int = 8,
    max_spread: float = 0.06,
) -> CardFit:
    """Least-squares affine map from measured patches to their references (0-1 sRGB).

    Clipped patches and non-uniform ones (something in front of them) are left
    out. Too few left, or a residual above ``max_residual``, gives ``ok=False``.
    """
    ref = np.asarray(reference, dtype=np.float64).reshape(-1, 3)
    if ref.shape[0] != samples.means.shape[0]:
        raise ValueError(
            f"the card has {samples.means.shape[0]} patches but {ref.shape[0]} reference colours"
        )
    use = ~samples.clipped & (samples.spreads <= max_spread)
    n = int(use.sum())
    if n < min_patches:
        reason = (f"only {n} of {use.size} card patches are readable (need {min_patches}); "
                  "the card is covered, blown out or not where the config says")
        return CardFit(np.eye(4, 3), float("nan"), n, False, reason)
    design = np.hstack([samples.means[use], np.ones((n, 1))])
    matrix, *_ = np.linalg.lstsq(design, ref[use], rcond=None)
    residual = float(np.sqrt(np.mean((design @ matrix - ref[use]) ** 2)))
    if residual > max_residual:
        reason = (f"the card's colours fit badly (residual {residual:.3f} > {max_residual:.3f}); "
                  "part of the card is covered or shaded, or it moved")
        return CardFit(matrix, residual, n, False, reason)
    return CardFit(matrix, residual, n, True)


def apply_affine(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``[r, g, b, 1] @ matrix`` for every pixel, clipped to [0, 1], float32."""
    rgb = np.asarray(image, dtype=np.float32)
    m = np.asarray(matrix, dtype=np.float32)
    out = rgb @ m[:3]
    out += m[3]
    return np.clip(out, 0.0, 1.0, out=out)
