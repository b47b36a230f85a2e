"""The per-image signals of one region: size, greenness, hue, colour shares, NDVI.

Stateless: everything here depends on this image only.  Signals that need the
zone's history (growth rate, hue shift, z-scores, stress score) come from
:class:`fieldagent.signals.baseline.ZoneHistory`.  Every signal is declared in
:mod:`fieldagent.signals.table`; every key is always present (``nan`` when it
cannot be measured) so downstream tables keep one schema.
"""

from __future__ import annotations

import numpy as np

from fieldagent.signals import indices as ix
from fieldagent.signals.config import HueBins

NAN = float("nan")


def compute_signals(
    rgb_crop: np.ndarray,
    plant_mask: np.ndarray,
    *,
    zone_mask: np.ndarray | None = None,
    nir_crop: np.ndarray | None = None,
    px_scale: float = 1.0,
    mm_per_px: float | None = None,
    bins: HueBins | None = None,
) -> dict[str, float]:
    """Signals of the plant pixels of one region crop.

    ``px_scale`` is how many full-resolution pixels one analysis pixel spans
    (``Frame.px_scale``), so areas are reported at the camera's resolution and
    ``mm_per_px`` (ground size of one *full-resolution* pixel) converts them to mm².
    ``nir_crop`` is a registered NIR crop in [0, 1] of the same size (2-D or 3-D).
    """
    rgb = np.asarray(rgb_crop, dtype=np.float32)
    plant = np.asarray(plant_mask, dtype=bool)
    if plant.shape != rgb.shape[:2]:
        raise ValueError(f"plant_mask shape {plant.shape} does not match the crop {rgb.shape}")
    px = ix.Pixels.of(rgb, plant)
    out = _size(plant, zone_mask, px_scale, mm_per_px)
    out.update(_greenness(px))
    hue_mean, hue_std = ix.hue_stats_of(px)
    out.update(hue_mean_deg=hue_mean, hue_std_deg=hue_std)
    out.update(ix.colour_fractions_of(px, bins))
    out["ndvi"] = _ndvi(px.red, nir_crop, plant)
    return out


def _size(
    plant: np.ndarray, zone: np.ndarray | None, px_scale: float, mm_per_px: float | None
) -> dict[str, float]:
    """Plant area in full-resolution pixels (and mm² when the scale is known), cover."""
    # count_nonzero, not sum: summing a bool array first widens it to integers
    count = float(np.count_nonzero(plant))
    area_px = count * px_scale * px_scale
    zone_px = float(np.count_nonzero(zone)) if zone is not None else float(plant.size)
    return {
        "plant_area_px": area_px,
        "plant_area_mm2": area_px * mm_per_px * mm_per_px if mm_per_px else NAN,
        "canopy_cover": count / zone_px if zone_px else NAN,
    }


def _greenness(px: ix.Pixels) -> dict[str, float]:
    return {
        "gcc": ix.gcc_of(px),
        "gcc_p90": ix.gcc_of(px, percentile=90.0),
        "rcc": ix.rcc_of(px),
        "exg": ix.exg_of(px),
        "gli": ix.gli_of(px),
        "ngrdi": ix.ngrdi_of(px),
        "vari": ix.vari_of(px),
        "tgi": ix.tgi_of(px),
    }


def _ndvi(red: np.ndarray, nir_crop: np.ndarray | None, plant: np.ndarray) -> float:
    if nir_crop is None:
        return NAN
    band = np.asarray(nir_crop, dtype=np.float32)
    if band.ndim == 3:
        band = band[..., 0]
    if band.shape != plant.shape:
        raise ValueError(f"NIR crop shape {band.shape} does not match the plant mask {plant.shape}")
    return ix.ndvi_of(red, band[plant])
