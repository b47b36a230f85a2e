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
from fieldagent.roi.morph import block_any, dilate, opening

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
    """Per-pixel planes that seeds and tissue both need, computed once per image."""

    red: np.ndarray
    green: np.ndarray
    blue: np.ndarray
    value: np.ndarray      # max(R, G, B)
    delta: np.ndarray      # max - min (chroma); saturation = delta / value
    leaf_hue: np.ndarray   # hue not too blue for a leaf (see leaf_hue())

    @classmethod
    def of(cls, rgb: np.ndarray, cfg: SegmentationConfig) -> Channels:
        red, green, blue = planes(rgb)
        value = np.maximum(np.maximum(red, green), blue)
        delta = value - np.minimum(np.minimum(red, green), blue)
        return cls(red, green, blue, value, delta, leaf_hue(red, green, blue, value, delta, cfg))

    @property
    def rgb(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.red, self.green, self.blue


def tissue_mask(
    ch: Channels, core: np.ndarray, region: np.ndarray | None, cfg: SegmentationConfig
) -> np.ndarray:
    """Plant-coloured pixels: vivid green ones outright; warm (yellow, brown) and pale ones
    when their colour is the leaves' and not the soil's.  Only pixels within reach of
    the seed core (``_AROUND * near_px``) are considered: tissue belongs to a plant."""
    if not core.any():
        return np.zeros(ch.value.shape, dtype=bool)
    near, ring = _reach(core, cfg.near_px)
    leaf_value = float(np.median(ch.value[core][::_STRIDE]))
    candidate, vivid = _candidates(ch, near, near | ring, region, leaf_value, cfg)
    tissue = candidate & vivid & hue_at_least(*ch.rgb, ch.delta, cfg.contrast_hue_max_deg)
    flat = np.flatnonzero(candidate & ~tissue)  # warm or pale: they take the colour test
    if flat.size:
        chroma = _chroma_bin(*(p.ravel()[flat] for p in ch.rgb))
        smooth = _roughness(ch.rgb).ravel()[flat] < cfg.smooth_max_cv
        near_px, ring_px = near.ravel()[flat], ring.ravel()[flat]
        leafy = _leaf_coloured(chroma, near_px & smooth, ring_px & ~smooth, cfg.contrast_ratio)
        # pale pixels are more often grey soil than glare on a leaf: they must be smooth too
        tissue.ravel()[flat[leafy & (vivid.ravel()[flat] | smooth)]] = True
    return opening(tissue, cfg.opening_radius)


def _candidates(
    ch: Channels, near: np.ndarray, reach: np.ndarray, region: np.ndarray | None,
    leaf_value: float, cfg: SegmentationConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pixels (bright, coloured, leaf hue, within reach) and which are vivid.

    Pale pixels (saturation under ``tissue_min_saturation``) are candidates too
    when *near* green and nearly as bright as the leaves (``pale_min_brightness``
    x the median seed brightness ``leaf_value``): glare and pale spots lie on the
    leaf, but so may light grey soil, so they take the test.
    Hue limits are tested on the channels directly (no hue image is built).
    """
    value, delta = ch.value, ch.delta
    gate = (value >= cfg.tissue_min_value) & (delta >= cfg.pale_min_saturation * value)
    vivid = delta >= np.float32(cfg.tissue_min_saturation) * value
    # glare and pale spots are about as bright as the leaf; grey soil and algae are darker
    gate &= vivid | ((value >= np.float32(cfg.pale_min_brightness) * leaf_value) & near)
    gate &= reach & ch.leaf_hue
    if region is not None:
        gate &= region
    gate &= hue_at_least(*ch.rgb, delta, cfg.tissue_hue_min_deg)
    return gate, vivid


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


def _roughness(rgb_planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Local coefficient of variation of brightness over 3x3: soil grain high, blades low."""
    lum = rgb_planes[0] + rgb_planes[1] + rgb_planes[2]
    mean = _box3(lum)
    lum *= lum
    var = _box3(lum)
    var -= mean * mean
    np.maximum(var, np.float32(0.0), out=var)
    np.sqrt(var, out=var)
    var /= np.maximum(mean, np.float32(1e-3))
    return var


def _box3(image: np.ndarray) -> np.ndarray:
    """3x3 mean by shifted sums (edge pixels average what they have); several times
    cheaper than ``ndimage.uniform_filter`` on a full frame."""
    rows = image.copy()
    rows[:, 1:] += image[:, :-1]
    rows[:, :-1] += image[:, 1:]
    out = rows.copy()
    out[1:] += rows[:-1]
    out[:-1] += rows[1:]
    out *= np.float32(1.0 / 9.0)
    return out


def _reach(core: np.ndarray, near_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of *near* the seed core (within ~``near_px``) and of the *ring* around that,
    out to ``_AROUND`` times as far.

    The ring is the plant's own surroundings (its pot, its bed): a far-away bench
    or floor says nothing about the soil the plant stands in.  Dilated on a 4x
    coarser grid (cheap, no full-size distance map), then blown back up.
    """
    steps = max(1, round(near_px / _BLOCK))
    near_grid = dilate(block_any(core, _BLOCK), steps)
    ring_grid = dilate(near_grid, steps * (_AROUND - 1)) & ~near_grid
    return _upsample(near_grid, core.shape), _upsample(ring_grid, core.shape)


def _upsample(grid: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    full = np.repeat(np.repeat(grid, _BLOCK, axis=0), _BLOCK, axis=1)
    return np.ascontiguousarray(full[: shape[0], : shape[1]])


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
