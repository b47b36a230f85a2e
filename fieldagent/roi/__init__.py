"""Regions of interest: zone geometry (rects, polygons, pot grids), plant segmentation, crops."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

if TYPE_CHECKING:
    from fieldagent.roi.config import (
        GridZone,
        PolygonZone,
        RectZone,
        SegmentationConfig,
        Zone,
        whole_frame_zone,
    )
    from fieldagent.roi.extract import Roi, crop, extract_rois
    from fieldagent.roi.segment import exg, exgr, segment_plants
    from fieldagent.roi.zones import ZoneGeometry, expand_zones, rasterize

_LAZY = {
    "GridZone": "config", "PolygonZone": "config", "RectZone": "config",
    "SegmentationConfig": "config", "Zone": "config", "whole_frame_zone": "config", "Roi":
    "extract", "crop": "extract", "extract_rois": "extract", "exg": "segment", "exgr":
    "segment", "segment_plants": "segment", "ZoneGeometry": "zones", "expand_zones":
    "zones", "rasterize": "zones",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "GridZone",
    "PolygonZone",
    "RectZone",
    "Roi",
    "SegmentationConfig",
    "Zone",
    "ZoneGeometry",
    "crop",
    "exg",
    "exgr",
    "expand_zones",
    "extract_rois",
    "rasterize",
    "segment_plants",
    "whole_frame_zone",
]
