"""Plant tissue that is not (or no longer) green, told apart from the background.

Yellow and brown leaf tissue share their hue with soil, bark, terracotta and
vermiculite, and no fixed colour threshold holds across sites: potting soil is
dark and grey in one greenhouse and saturated red-brown in another.  So warm
pixels (hue below ``contrast_hue_max_deg``) and pale ones near the leaves
(glare, pale spots, but also grey soil) are judged against *this image's own*
background, with a colour model the image labels itself:

* texture labels the samples: soil, bark and grit are rough at pixel scale
  (grains, crumbs, perlite), leaf blades are smooth.  Smooth candidates *near*
  a green seed core (within ``near_px``) are the tissue sample; rough ones in
  the *ring* around that (out to ``_AROUND * near_px``: the plant's own pot or
  bed, not a far-away bench) are the soil sample;
* both samples are binned by chromaticity (r, g);
* a candidate is tissue when its colour is ``contrast_ratio`` times more common
  (as a share) in the tissue sample than in the soil sample; a pale one must
  also be smooth itself.

So a smooth patch of soil next to a leaf is still rejected (its colour is the
soil's), a rough necrotic spot is still kept (its colour is the leaf's), and a
brown leaf reaching away from the green centre is followed through the leaf
itself by the grow step in :mod:`fieldagent.roi.segment`.  Comparing *shares*,
not densities per area, keeps the test fair when soil sits only in the pots.
Vivid green tissue needs no test.  Nothing beyond the ring is tissue: a plant
with no green left at all is not found (it looks like soil from above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from fieldagent.roi.colour import planes
from fieldagent.roi.config import SegmentationConfig
from fieldagent.roi.morph import block_any, dilate, opening, upsample

# Near/far maps are built on a grid this many times coarser (cheap dilation).
_BLOCK = 4
# The soil sample comes from the ring out to this many times near_px around the seeds,
# and tissue is only searched that far from them.
_AROUND = 4
# Chromaticity bins per axis: 1/96 ~ 0.01 in r and g.
_BINS = 96
# Typical leaf brightness is the median over every 7th seed-core pixel.
_STRIDE = 7
# Smoothed count a colour needs in the tissue sample to be trusted as leaf.
_MIN_COUNT = 2.0


@dataclass(frozen=True)
class Channels:
    """Per-pixel planes that seeds and tissue both need, computed once per image.

    Only the cheap planes are full-frame; hue tests run later on the few pixels
    that survive the cheap gates (:meth:`at`), because every full-frame float
    temporary costs about as much as the arithmetic on it.
    """

    red: np.ndarray
    green: np.ndarray
    blue: np.ndarray
    value: np.ndarray      # max(R, G, B)
    delta: np.ndarray      # max - min (chroma); saturation = delta / value

    @classmethod
    def of(cls, rgb: np.ndarray) -> Channels:
        return cls.of_planes(*planes(rgb))

    @classmethod
    def of_planes(cls, red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> Channels:
        value = np.maximum(red, green)
        np.maximum(value, blue, out=value)
        delta = np.minimum(red, green)
        np.minimum(delta, blue, out=delta)
        np.subtract(value, delta, out=delta)
        return cls(red, green, blue, value, delta)

    @property
    def rgb(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.red, self.green, self.blue

    def at(self, flat: np.ndarray) -> Channels:
        """The same planes at the flat pixel indices ``flat`` (1-D arrays)."""
        return Channels(*(np.take(p.ravel(), flat) for p in (*self.rgb, self.value, self.delta)))


def tissue_mask(
    ch: Channels, core: np.ndarray, region: np.ndarray | None, cfg: SegmentationConfig
) -> np.ndarray:
    """Plant-coloured pixels: vivid green ones outright; warm (yellow, brown) and pale ones
    when their colour is the leaves' and not the soil's.  Only pixels within reach of
    the seed core (``_AROUND * near_px``) are considered: tissue belongs to a plant.

    Everything after the first cheap gates runs on the gated pixels' flat indices,
    not on full-frame planes: full-frame temporaries cost as much as their arithmetic."""
    tissue = np.zeros(ch.value.shape, dtype=bool)
    if not core.any():
        return tissue
    near_grid, ring_grid = _reach(core, cfg.near_px)
    leaf_value = float(np.median(ch.value[core][::_STRIDE]))
    flat, px, near, vivid, keep = _candidates(ch, near_grid, ring_grid, region, leaf_value, cfg)
    green = keep & vivid & hue_at_least(*px.rgb, px.delta, cfg.contrast_hue_max_deg)
    tissue.ravel()[flat[green]] = True
    keep &= ~green
    test = np.flatnonzero(keep)  # warm or pale: they take the colour test
    if test.size:
        chroma = _chroma_bin(*(np.take(c, test) for c in px.rgb))
        smooth = roughness_at(padded_lum(ch.rgb), flat[test]) < cfg.smooth_max_cv
        near_t = near[test]
        leafy = _leaf_coloured(chroma, near_t & smooth, ~near_t & ~smooth, cfg.contrast_ratio)
        # pale pixels are more often grey soil than glare on a leaf: they must be smooth too
        tissue.ravel()[flat[test][leafy & (vivid[test] | smooth)]] = True
    return opening(tissue, cfg.opening_radius)


def _candidates(
    ch: Channels, near_grid: np.ndarray, ring_grid: np.ndarray, region: np.ndarray | None,
    leaf_value: float, cfg: SegmentationConfig,
) -> tuple[np.ndarray, Channels, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels that pass the cheap full-frame gates (bright, coloured, within reach) as
    flat indices with their channels, whether each is near the seeds (else it lies in
    the soil ring) and vivid, and which of them are candidates (leaf hue too).

    Pale pixels (saturation under ``tissue_min_saturation``) are candidates too
    when *near* green and nearly as bright as the leaves (``pale_min_brightness``
    x the median seed brightness ``leaf_value``): glare and pale spots lie on the
    leaf, but so may light grey soil, so they take the test.
    Hue limits are tested on the channels directly (no hue image is built), and
    only on the gated pixels, not on full-frame planes.
    """
    value, delta = ch.value, ch.delta
    # one upsampled map: 2 near the seeds, 1 in the ring, 0 out of reach
    reach = upsample(near_grid.view(np.uint8) * np.uint8(2) + ring_grid.view(np.uint8),
                     value.shape, _BLOCK)
    gate = reach > 0
    gate &= value >= np.float32(cfg.tissue_min_value)
    gate &= delta >= np.float32(cfg.pale_min_saturation) * value
    if region is not None:
        gate &= region
    flat = np.flatnonzero(gate)
    px = ch.at(flat)
    near = np.take(reach.ravel(), flat) == 2
    vivid = px.delta >= np.float32(cfg.tissue_min_saturation) * px.value
    # glare and pale spots are about as bright as the leaf; grey soil and algae are darker
    keep = vivid | ((px.value >= np.float32(cfg.pale_min_brightness) * leaf_value) & near)
    keep &= leaf_hue(*px.rgb, px.value, px.delta, cfg)
    keep &= hue_at_least(*px.rgb, px.delta, cfg.tissue_hue_min_deg)
    return flat, px, near, vivid, keep


def hue_at_least(
    red: np.ndarray, green: np.ndarray, blue: np.ndarray, delta: np.ndarray, degrees: float
) -> np.ndarray:
    """HSV hue >= ``degrees`` (0..120) for pixels with green >= blue (hue in 0..180).

    Red the largest channel: hue = 60 (G - B) / (max - min), in 0..60.  Green the
    largest: hue = 60 (2 + (B - R) / (max - min)), in 60..180.
    """
    k = np.float32(degrees / 60.0)
    if degrees <= 60.0:
        return (green >= red) | (green - blue >= k * delta)
    return (green >= red) & (blue - red >= (k - np.float32(2.0)) * delta)


def leaf_hue(
    red: np.ndarray, green: np.ndarray, blue: np.ndarray, value: np.ndarray, delta: np.ndarray,
    cfg: SegmentationConfig,
) -> np.ndarray:
    """Not too blue for a leaf: hue <= ``tissue_hue_max_deg``, or up to ``vivid_hue_max_deg``
    when saturation >= ``vivid_min_saturation``.

    Blue-green plastic (pots, trays) is dull; leaves under a cool white balance
    turn blue-green too but stay vivid.  Written without the hue: in the green
    sector hue = 60 (2 + (B - R) / (max - min)), so hue <= cap is
    B - R <= (cap / 60 - 2) (max - min); a red-dominant pixel always passes.
    """
    spread = blue - red
    dull_cap = np.float32(cfg.tissue_hue_max_deg / 60.0 - 2.0) * delta
    vivid_cap = np.float32(cfg.vivid_hue_max_deg / 60.0 - 2.0) * delta
    vivid = delta >= np.float32(cfg.vivid_min_saturation) * value
    return (green >= blue) & ((spread <= dull_cap) | (vivid & (spread <= vivid_cap)))


def _chroma_bin(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """Index of the (r, g) chromaticity bin of each pixel."""
    inv = np.float32(_BINS - 1) / np.maximum(red + green + blue, np.float32(1e-6))
    rq = (red * inv + 0.5).astype(np.intp)
    gq = (green * inv + 0.5).astype(np.intp)
    return rq * _BINS + gq


def padded_lum(rgb_planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """R + G + B with a one-pixel black border, for :func:`roughness_at`."""
    height, width = rgb_planes[0].shape
    lum = np.zeros((height + 2, width + 2), dtype=np.float32)
    inner = lum[1:-1, 1:-1]
    np.add(rgb_planes[0], rgb_planes[1], out=inner)
    inner += rgb_planes[2]
    return lum


def roughness_at(lum: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Local coefficient of variation of brightness over 3x3 at the flat pixel indices
    ``flat`` of the unpadded frame: soil grain high, blades low.

    Only the pixels that take the colour test need it (a minority of the frame
    even near plants), so their nine neighbours are gathered from the padded
    brightness ``lum`` (:func:`padded_lum`) instead of box-filtering the whole
    frame.  Outside the image counts as black and the sums are divided by 9, in
    the order a shifted-sum box filter adds them: the same values, bit for bit.
    """
    stride = lum.shape[1]
    rows, cols = np.divmod(flat, stride - 2)
    centre = (rows + 1) * stride + cols + 1
    flat_lum = lum.ravel()
    mean = np.zeros(flat.shape, dtype=np.float32)
    square = np.zeros(flat.shape, dtype=np.float32)
    for dy in (0, -1, 1):  # centre row, then the rows above and below
        at = centre + dy * stride
        row = np.take(flat_lum, at)
        row_sq = row * row
        for dx in (-1, 1):
            v = np.take(flat_lum, at + dx)
            row += v
            row_sq += v * v
        mean += row
        square += row_sq
    mean *= np.float32(1.0 / 9.0)
    square *= np.float32(1.0 / 9.0)
    square -= mean * mean
    np.maximum(square, np.float32(0.0), out=square)
    np.sqrt(square, out=square)
    square /= np.maximum(mean, np.float32(1e-3))
    return square


def _reach(core: np.ndarray, near_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks, on a ``_BLOCK`` times coarser grid, of *near* the seed core (within
    ~``near_px``) and of the *ring* around that, out to ``_AROUND`` times as far.

    The ring is the plant's own surroundings (its pot, its bed): a far-away bench
    or floor says nothing about the soil the plant stands in.  Dilated on the
    coarse grid (cheap, no full-size distance map); looked up per pixel later.
    """
    steps = max(1, round(near_px / _BLOCK))
    near_grid = dilate(block_any(core, _BLOCK), steps)
    ring_grid = dilate(near_grid, steps * (_AROUND - 1)) & ~near_grid
    return near_grid, ring_grid


def _leaf_coloured(
    chroma: np.ndarray, tissue_sample: np.ndarray, soil_sample: np.ndarray, ratio: float
) -> np.ndarray:
    """Whether each candidate's colour is ``ratio`` times commoner in the tissue sample."""
    n_tissue = _smoothed_hist(chroma[tissue_sample])
    n_soil = _smoothed_hist(chroma[soil_sample])
    share_tissue = n_tissue / max(float(n_tissue.sum()), 1.0)
    share_soil = n_soil / max(float(n_soil.sum()), 1.0)
    # a colour seen only once or twice near the plant is noise, not a leaf
    leafy = (share_tissue > ratio * share_soil) & (n_tissue >= _MIN_COUNT)
    return np.asarray(leafy[chroma])


def _smoothed_hist(bins: np.ndarray) -> np.ndarray:
    """Counts per chromaticity bin, spread over the 3x3 neighbourhood (sampling noise)."""
    hist = np.bincount(bins, minlength=_BINS * _BINS).astype(np.float32)
    return ndi.uniform_filter(hist.reshape(_BINS, _BINS), size=3).ravel() * np.float32(9.0)
