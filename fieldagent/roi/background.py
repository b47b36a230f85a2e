"""Grow the plant into tissue that differs from this image's own background.

The seeds and the soil-contrast test (:mod:`fieldagent.roi.tissue`) are
conservative by design: a dull blue-green leaf is refused because green plastic
looks the same, and yellow or brown tissue is only kept next to green.  On real
photos that loses whole parts of plants: blue-green grape leaves under a cool lab
light, pale grey-green tobacco leaves, a corn leaf half covered in tan lesions.
So after them the mask grows, in ``grow_rounds`` rounds of ``grow_px``, into the
pixels next to the plant whose colour is *not the background's*:

* the background is sampled where it is known without any colour rule: the
  frame's (or zone's) outer band (``background_band``), which a top-down camera
  fills with bench, floor or tray, and every pixel away from the plant that is
  *rough* (3x3 brightness variation ``rough_ratio`` times the seeds' own):
  soil, grit, perlite and gravel are grainy at any scale where leaves are not;
* the near sample is everything within ``grow_px`` of the plant (plant, soil,
  pot, bench alike);
* both are binned by chromaticity *and* brightness (a dark shadow and a bright
  board share their chromaticity, a brown lesion and soil their hue), and a
  pixel is plant-coloured when its bin is ``contrast_ratio`` times commoner (as
  a share) near the plant than in the background;
* next to a potted plant the background is soil, and the frame-wide sample is
  mostly bench: soil colours are rare there, so they would pass as
  plant-coloured (on JPEG frames, whose compression smooths soil grain, growth
  took soil specks and pot rims).  So the plant's own soil is a second sample:
  the pixels out to ``_AROUND`` times ``grow_px`` around the plant, not yet
  plant, that lie in a rough *area* (at least ``_ROUGH_AREA_SHARE`` of the
  pixels not yet plant in the 12 x 12 around them rough, so a soil pocket
  between leaves counts as soil: soil is grainy all over, a lesion's border or
  a colour card's edge is a rough line) and are darker than the leaves.  The
  soil right next to the leaves counts: in a small pot all of it lies within
  ``grow_px`` of the plant and the ring beyond is pot rim and bench, so a
  ring-only sample held no soil and growth took soil patches in bright sun.  A
  colour that is not ``contrast_ratio`` times commoner near the plant than in
  that soil is only taken where the texture is leaf-like (not in a rough area):
  a lesion inside a smooth leaf shares its colour with soil and is still grown
  into, a soil crumb is not;
* a plant-coloured pixel is taken when it is also smooth (or next to a smooth
  one: lesion borders and leaf edges are rough lines), at least
  ``grow_min_brightness`` times as bright as the seeds (soil is darker than any
  leaf, necrotic lesions inside a leaf come back by hole filling), coloured at
  least ``pale_min_saturation`` (white walls, labels and glare are not) and not
  a dark grey shadow (``shadow_max_value``, ``shadow_max_saturation``).

Growth starts only from regions holding ``_SOURCE_SHARE`` of the largest
region's seed core: a few green-looking seeds on a pot rim are not a plant, and
growing from them took the whole rim (the rim's colour is nowhere in the
background sample, so it passes as plant-coloured).

The segmenter then keeps what is connected to the seeds, as before: tissue
joined to a plant stays in, a smooth yellow label or a terracotta pot separated
from the leaves by soil does not.  ``grow_rounds=0`` is the segmenter before
this step.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from fieldagent.roi.config import SegmentationConfig
from fieldagent.roi.morph import block_any, dilate
from fieldagent.roi.tissue import Channels, padded_lum, roughness_at, upsample

# Chromaticity bins per axis (1/32 ~ 0.03 in r and g) and brightness bins (value / 8).
_CHROMA_BINS = 32
_VALUE_BINS = 8
# A colour seen fewer (smoothed) times near the plant is noise, not tissue.
_MIN_COUNT = 2.0
# Reach maps are built on a grid this many times coarser (cheap dilation).
_BLOCK = 4
# The plant's own surroundings (its pot, its board) reach this many times grow_px out.
_AROUND = 3
# A pixel lies in a rough area when this share of the 3x3 blocks around its block is rough.
_ROUGH_AREA_SHARE = 0.5
# Growth starts from regions holding this share of the largest region's seed core:
# a few seeds on a pot rim or a label are not a plant to grow from.
_SOURCE_SHARE = 0.02
# A round that adds less than this share of the plant ends the growth.
_SETTLED = 0.01
# The seeds' typical texture and brightness are medians over every 7th core pixel.
_STRIDE = 7


def grow_candidates(
    ch: Channels, core: np.ndarray, candidate: np.ndarray, region: np.ndarray | None,
    cfg: SegmentationConfig,
) -> np.ndarray:
    """``candidate`` plus the pixels near the plant whose colour differs from this image's
    background (see the module docstring); unchanged when there are no seeds."""
    if cfg.grow_rounds == 0 or not core.any():
        return candidate
    lum = padded_lum(ch.rgb)
    sample = np.flatnonzero(core)[::_STRIDE]
    leaf_cv = float(np.median(roughness_at(lum, sample)))
    leaf_value = float(np.median(ch.value.ravel()[sample]))
    rough = _rough(lum, core.shape, cfg.rough_ratio * leaf_cv)
    # a lesion's border and a leaf's edge are rough *lines* with smooth tissue either side:
    # a pixel next to a smooth one may be grown into; soil is rough all over
    smooth_nearby = dilate(~rough, 1)
    # the soil a plant stands in: rough all over and darker than its leaves
    darker = ch.value < np.float32(leaf_value)
    rough_counts = block_counts(rough)
    bins = colour_bins(ch)
    open_ = _growable(ch, region, leaf_value, cfg) & ~candidate & smooth_nearby
    band = outer_band(core.shape, cfg.background_band)
    plant = _plant(core, candidate, cfg)
    plant_px = int(plant.sum())
    for _ in range(cfg.grow_rounds):
        near_grid, ring_grid = _near_and_ring(plant, cfg.grow_px)
        near = upsample(near_grid, plant.shape, _BLOCK)
        background = band | (rough & ~near)
        rough_grid = _rough_area(rough_counts, rough, plant)
        # in a small pot all the soil lies within grow_px of the leaves and the ring
        # beyond is pot rim and bench: the rough areas near the plant are soil too
        soil_grid = rough_grid & (ring_grid | near_grid)
        soil = upsample(soil_grid, plant.shape, _BLOCK) & darker & ~plant
        if region is not None:
            near &= region
            background &= region
            soil &= region
        n_near, share_near = bin_shares(bins, near)
        plant_coloured = commoner(n_near, share_near, bin_shares(bins, background)[1],
                                  cfg.contrast_ratio)
        unlike_soil = commoner(n_near, share_near, bin_shares(bins, soil)[1], cfg.contrast_ratio)
        flat = np.flatnonzero(near & open_)
        flat_bins = np.take(bins.ravel(), flat)
        take = plant_coloured[flat_bins]
        take &= unlike_soil[flat_bins] | ~_on_grid(rough_grid, flat, plant.shape[1])
        taken = int(take.sum())
        if taken == 0:
            break
        candidate = candidate.copy()
        candidate.ravel()[flat[take]] = True
        open_.ravel()[flat[take]] = False
        if taken < _SETTLED * plant_px:
            break  # the plant has stopped growing: another round would add specks
        plant = _plant(core, candidate, cfg)
        plant_px = int(plant.sum())
    return candidate


def colour_bins(ch: Channels) -> np.ndarray:
    """Index of each pixel's (brightness, r, g) bin: chromaticity r, g = R/(R+G+B), G/(...)
    in ``_CHROMA_BINS`` steps, brightness max(R, G, B) in ``_VALUE_BINS``."""
    inv = np.float32(_CHROMA_BINS) / np.maximum(ch.red + ch.green + ch.blue, np.float32(1e-6))
    rq = np.minimum((ch.red * inv).astype(np.intp), _CHROMA_BINS - 1)
    gq = np.minimum((ch.green * inv).astype(np.intp), _CHROMA_BINS - 1)
    vq = np.minimum((ch.value * np.float32(_VALUE_BINS)).astype(np.intp), _VALUE_BINS - 1)
    return np.asarray((vq * _CHROMA_BINS + rq) * _CHROMA_BINS + gq)


def contrast_bins(
    bins: np.ndarray, near: np.ndarray, background: np.ndarray, ratio: float
) -> np.ndarray:
    """Per bin: is this colour ``ratio`` times commoner (as a share) in ``near`` than in
    ``background``?  Bins no background pixel falls in pass whenever seen near."""
    n_near, share_near = bin_shares(bins, near)
    return commoner(n_near, share_near, bin_shares(bins, background)[1], ratio)


def bin_shares(bins: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed counts per bin of the pixels in ``sample``, and those as shares of it."""
    counts = _smoothed_hist(bins[sample])
    return counts, counts / max(float(sample.sum()), 1.0)


def commoner(
    n_near: np.ndarray, share_near: np.ndarray, share_back: np.ndarray, ratio: float
) -> np.ndarray:
    """Bins ``ratio`` times commoner near than in the background, and seen near at least
    ``_MIN_COUNT`` (smoothed) times."""
    return np.asarray((share_near > ratio * share_back) & (n_near >= _MIN_COUNT))


def outer_band(shape: tuple[int, ...], share: float) -> np.ndarray:
    """The frame's outer band, ``share`` of the short side wide (at least one pixel)."""
    band = np.zeros(shape[:2], dtype=bool)
    width = max(1, round(share * min(shape[:2])))
    band[:width], band[-width:], band[:, :width], band[:, -width:] = True, True, True, True
    return band


def _growable(
    ch: Channels, region: np.ndarray | None, leaf_value: float, cfg: SegmentationConfig
) -> np.ndarray:
    """Pixels the plant may grow into: bright enough next to the seeds, coloured at least
    ``pale_min_saturation`` (a white wall or label is never tissue), not a dark grey
    shadow, inside the zone."""
    ok = ch.value >= np.float32(max(cfg.tissue_min_value, cfg.grow_min_brightness * leaf_value))
    ok &= ch.delta >= np.float32(cfg.pale_min_saturation) * ch.value
    shadow = (ch.value < np.float32(cfg.shadow_max_value)) & (
        ch.delta < np.float32(cfg.shadow_max_saturation) * ch.value
    )
    ok &= ~shadow
    return ok if region is None else ok & region


def _plant(core: np.ndarray, candidate: np.ndarray, cfg: SegmentationConfig) -> np.ndarray:
    """The plant regions growth starts from: candidate regions holding at least
    ``min_seed_px`` core pixels and ``_SOURCE_SHARE`` of the largest region's."""
    labels, n = ndi.label(candidate, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return candidate
    seed_count = np.bincount(labels[core], minlength=n + 1)
    size = np.bincount(labels.ravel(), minlength=n + 1)
    least = max(float(cfg.min_seed_px), _SOURCE_SHARE * float(seed_count[1:].max()))
    keep = (seed_count >= least) & (size >= cfg.min_object_px)
    keep[0] = False
    return np.asarray(np.take(keep, labels))


def _near_and_ring(plant: np.ndarray, reach_px: int) -> tuple[np.ndarray, np.ndarray]:
    """On the ``_BLOCK`` times coarser grid (cheap to dilate): the blocks within about
    ``reach_px`` of the plant, and the ring around them out to ``_AROUND`` times as far."""
    steps = max(1, round(reach_px / _BLOCK))
    near_grid = dilate(block_any(plant, _BLOCK), steps)
    ring_grid = dilate(near_grid, steps * (_AROUND - 1)) & ~near_grid
    return near_grid, ring_grid


def _rough(lum: np.ndarray, shape: tuple[int, ...], threshold: float) -> np.ndarray:
    """Pixels whose 3x3 brightness variation is at least ``threshold``: the whole-frame twin
    of :func:`fieldagent.roi.tissue.roughness_at` (``lum`` padded with black), by shifted
    sums, several times cheaper than gathering nine neighbours per pixel."""
    square = lum * lum
    mean, mean_sq = _box3(lum), _box3(square)
    mean_sq -= mean * mean
    np.maximum(mean_sq, np.float32(0.0), out=mean_sq)
    np.sqrt(mean_sq, out=mean_sq)
    return np.asarray(mean_sq >= np.float32(threshold) * np.maximum(mean, np.float32(1e-3)))


def _rough_area(rough_counts: np.ndarray, rough: np.ndarray, plant: np.ndarray) -> np.ndarray:
    """Per ``_BLOCK``-pixel block: is at least ``_ROUGH_AREA_SHARE`` of what is not yet
    plant in the 3x3 blocks around it rough?  Soil, grit and gravel are rough all over,
    also in the pockets between leaves; a lesion's border, a leaf's vein or a colour
    card's edge is a rough line in smooth surroundings.  ``rough_counts`` is
    :func:`block_counts` of ``rough``.  On the block grid: a full-frame box filter
    costs as much as the rest of the growth step."""
    plant_counts = block_counts(plant)
    rough_open = rough_counts - block_counts(rough & plant)
    open_ = np.float32(_BLOCK * _BLOCK) - plant_counts
    rough_share = ndi.uniform_filter(rough_open, 3, mode="nearest")
    rough_share /= np.maximum(ndi.uniform_filter(open_, 3, mode="nearest"), np.float32(0.5))
    return np.asarray(rough_share >= np.float32(_ROUGH_AREA_SHARE))


def block_counts(mask: np.ndarray) -> np.ndarray:
    """True pixels per ``_BLOCK`` x ``_BLOCK`` block (float32; a partial block at the
    right or bottom edge counts only its pixels), by strided sums, not a full-frame copy."""
    height, width = mask.shape
    rows, cols = -(-height // _BLOCK), -(-width // _BLOCK)
    flat = np.ascontiguousarray(mask).view(np.uint8)
    by_row = np.zeros((rows, width), dtype=np.uint8)
    for dy in range(_BLOCK):
        part = flat[dy::_BLOCK]
        by_row[: part.shape[0]] += part
    counts = np.zeros((rows, cols), dtype=np.uint8)
    for dx in range(_BLOCK):
        part = by_row[:, dx::_BLOCK]
        counts[:, : part.shape[1]] += part
    return counts.astype(np.float32)


def _on_grid(grid: np.ndarray, flat: np.ndarray, width: int) -> np.ndarray:
    """``grid`` (one cell per ``_BLOCK`` block) at the flat pixel indices ``flat``."""
    rows, cols = np.divmod(flat, width)
    return np.asarray(grid[rows // _BLOCK, cols // _BLOCK])


def _box3(padded: np.ndarray) -> np.ndarray:
    """3x3 means of the inner pixels of a one-pixel-padded array."""
    rows = padded[:-2] + padded[1:-1]
    rows += padded[2:]
    box = rows[:, :-2] + rows[:, 1:-1]
    box += rows[:, 2:]
    box *= np.float32(1.0 / 9.0)
    return box


def _smoothed_hist(bins: np.ndarray) -> np.ndarray:
    """Counts per bin, spread over the 3x3x3 neighbourhood (sampling noise)."""
    hist = np.bincount(bins, minlength=_VALUE_BINS * _CHROMA_BINS * _CHROMA_BINS)
    cube = hist.astype(np.float32).reshape(_VALUE_BINS, _CHROMA_BINS, _CHROMA_BINS)
    return ndi.uniform_filter(cube, size=3, mode="constant").ravel() * np.float32(27.0)
