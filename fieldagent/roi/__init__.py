"""Regions of interest: zone geometry (rects, polygons, pot grids), plant segmentation, crops."""

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
