"""Small binary morphology helpers, fast on full analysis frames.

Erosion and dilation with a 3x3 cross are four shifted-slice AND/OR passes over
a bool array, several times cheaper than ``scipy.ndimage.binary_*`` with a
structuring element; repeated ``radius`` times they use a diamond.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

_FOUR = ndi.generate_binary_structure(2, 1)
_EIGHT = ndi.generate_binary_structure(2, 2)


def cross_step(mask: np.ndarray, *, erode: bool) -> np.ndarray:
    """One erosion (or dilation) step with the 3x3 cross; outside the image is background."""
    op = np.logical_and if erode else np.logical_or
    out = mask.copy()
    op(out[1:], mask[:-1], out=out[1:])
    op(out[:-1], mask[1:], out=out[:-1])
    op(out[:, 1:], mask[:, :-1], out=out[:, 1:])
    op(out[:, :-1], mask[:, 1:], out=out[:, :-1])
    if erode and out.size:
        out[0], out[-1], out[:, 0], out[:, -1] = False, False, False, False
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion with a diamond of ``radius``."""
    for _ in range(radius):
        mask = cross_step(mask, erode=True)
    return mask


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation with a diamond of ``radius``."""
    for _ in range(radius):
        mask = cross_step(mask, erode=False)
    return mask


def opening(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary opening: removes specks and bridges narrower than ``2 * radius + 1``."""
    return dilate(erode(mask, radius), radius)


def fill_small_holes(
    mask: np.ndarray, max_hole_px: int, boxes: Sequence[tuple[slice, ...]] | None = None
) -> np.ndarray:
    """Fill background pockets up to ``max_hole_px`` enclosed by the mask.

    ``boxes`` are the objects' bounding boxes (``ndimage.find_objects``); a hole of
    an object lies strictly inside its box, so labelling the background box by box
    is far cheaper than labelling the whole frame's background.
    """
    if max_hole_px <= 0 or not mask.any():
        return mask
    if boxes is None:
        boxes = [b for b in ndi.find_objects(ndi.label(mask)[0]) if b]
    out = mask.copy()
    for box in boxes:
        out[box] |= _holes(mask[box], max_hole_px)
    return out


def _holes(mask: np.ndarray, max_hole_px: int) -> np.ndarray:
    """Background components up to ``max_hole_px`` that do not touch the array's edge."""
    labels, n = ndi.label(~mask, structure=_FOUR)
    if n == 0:
        return np.zeros_like(mask)
    size = np.bincount(labels.ravel(), minlength=n + 1)
    fill = size <= max_hole_px
    fill[0] = False
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    fill[edge] = False
    return np.asarray(fill[labels])


def keep_seeded(
    core: np.ndarray, candidate: np.ndarray, *, min_seed_px: int, min_object_px: int,
    max_hole_px: int,
) -> np.ndarray:
    """Candidate regions (8-connected) that hold at least ``min_seed_px`` pixels of
    ``core`` and ``min_object_px`` pixels in all, with holes up to ``max_hole_px`` filled.

    Hysteresis, small-object removal and the boxes for hole filling all come from
    one labelling of the candidate mask.
    """
    labels, n = ndi.label(candidate, structure=_EIGHT)
    if n == 0:
        return candidate
    seed_count = np.bincount(labels[core], minlength=n + 1)
    size = np.bincount(labels.ravel(), minlength=n + 1)
    keep = (seed_count >= min_seed_px) & (size >= min_object_px)
    keep[0] = False
    if max_hole_px <= 0:
        return np.asarray(np.take(keep, labels))
    boxes = [box for i, box in enumerate(ndi.find_objects(labels), 1) if keep[i] and box]
    return fill_small_holes(np.take(keep, labels), max_hole_px, boxes)


def block_any(mask: np.ndarray, block: int) -> np.ndarray:
    """Shrink by ``block``: a cell is True when any pixel of its block is (edges padded)."""
    out = np.zeros(_blocks(mask.shape, block), dtype=bool)
    for dy in range(block):
        for dx in range(block):
            part = mask[dy::block, dx::block]
            out[: part.shape[0], : part.shape[1]] |= part
    return out


def _blocks(shape: tuple[int, ...], block: int) -> tuple[int, int]:
    return -(-shape[0] // block), -(-shape[1] // block)


def upsample(grid: np.ndarray, shape: tuple[int, ...], block: int) -> np.ndarray:
    """A ``block``-times coarser grid blown back up to ``shape`` (one copy, by broadcasting)."""
    rows, cols = grid.shape
    cells = np.broadcast_to(grid[:, None, :, None], (rows, block, cols, block))
    full = cells.reshape(rows * block, cols * block)
    return np.ascontiguousarray(full[: shape[0], : shape[1]])
