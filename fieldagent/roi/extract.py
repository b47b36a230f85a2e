"""Regions of interest: each zone's pixels, its plant mask and what looks wrong with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fieldagent.roi.config import GridZone, PolygonZone, RectZone, SegmentationConfig
from fieldagent.roi.segment import segment_plants
from fieldagent.roi.zones import ZoneGeometry, rasterize

FLAG_EMPTY = "empty"                    # no plant (or less than min_plant_fraction) in the zone
FLAG_TOUCHES_BORDER = "touches_border"  # plant runs over the zone edge: zone too small or overgrown
FLAG_CLIPPED = "clipped"                # part of the zone lies outside the frame (camera shift)


@dataclass(frozen=True)
class Roi:
    """One leaf zone of one image.

    ``bbox`` is (x0, y0, x1, y1) in analysis pixels (x1, y1 exclusive); both
    masks are bbox-sized; ``plant_mask`` lies within ``zone_mask``.
    """

    id: str
    bbox: tuple[int, int, int, int]
    zone_mask: np.ndarray
    plant_mask: np.ndarray
    flags: tuple[str, ...]

    @property
    def plant_fraction(self) -> float:
        """Share of the zone covered by plant (0 for an empty or off-frame zone)."""
        zone_px = int(self.zone_mask.sum())
        return float(self.plant_mask.sum()) / zone_px if zone_px else 0.0


def extract_rois(
    rgb: np.ndarray,
    zones: Sequence[RectZone | PolygonZone | GridZone],
    *,
    shift_xy: tuple[float, float] = (0.0, 0.0),
    config: SegmentationConfig,
    plant_mask: np.ndarray | None = None,
) -> list[Roi]:
    """Rasterise the zones (moved by the camera shift) and find the plant in each.

    ``plant_mask`` is the whole-frame segmentation when the caller already has
    it (the pipeline segments once, for the quality check's background mask);
    without it each zone is segmented on its own crop.
    """
    arr = np.asarray(rgb, dtype=np.float32)
    if plant_mask is not None and plant_mask.shape != arr.shape[:2]:
        raise ValueError(
            f"plant_mask shape {plant_mask.shape} does not match the image {arr.shape[:2]}"
        )
    return [_roi(arr, geo, config, plant_mask) for geo in rasterize(zones, arr.shape[:2],
                                                                    shift_xy=shift_xy)]


def _roi(
    rgb: np.ndarray, geo: ZoneGeometry, cfg: SegmentationConfig, frame_mask: np.ndarray | None
) -> Roi:
    x0, y0, x1, y1 = geo.bbox
    if frame_mask is not None:
        plant = frame_mask[y0:y1, x0:x1] & geo.mask
    elif geo.mask.any():
        plant = segment_plants(rgb[y0:y1, x0:x1], mask=geo.mask, config=cfg)
    else:
        plant = np.zeros_like(geo.mask)
    return Roi(geo.id, geo.bbox, geo.mask, plant, _flags(geo, plant, cfg))


def _flags(geo: ZoneGeometry, plant: np.ndarray, cfg: SegmentationConfig) -> tuple[str, ...]:
    """What a reader of this zone's signals should know."""
    flags: list[str] = []
    zone_px = int(geo.mask.sum())
    plant_px = int(plant.sum())
    if zone_px == 0 or plant_px == 0 or plant_px < cfg.min_plant_fraction * zone_px:
        flags.append(FLAG_EMPTY)
    elif border_share(geo.mask, plant) > cfg.border_touch_fraction:
        flags.append(FLAG_TOUCHES_BORDER)
    if geo.visible < cfg.clipped_fraction:
        flags.append(FLAG_CLIPPED)
    return tuple(flags)


def border_share(zone: np.ndarray, plant: np.ndarray) -> float:
    """Share of the zone's border pixels (inner edge, frame edge included) covered by plant."""
    if not zone.any():
        return 0.0
    padded = np.pad(zone, 1)
    interior = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
    interior &= padded[1:-1, :-2] & padded[1:-1, 2:]
    border = zone & ~interior
    count = int(border.sum())
    return float((plant & border).sum()) / count if count else 0.0


def crop(rgb: np.ndarray, roi: Roi) -> np.ndarray:
    """The zone's bounding-box crop of the analysis image (a float32 view), e.g. for the model."""
    x0, y0, x1, y1 = roi.bbox
    return np.asarray(rgb, dtype=np.float32)[y0:y1, x0:x1]
