"""Zone geometry: grids expanded into cells, zones rasterised into pixel masks.

Pixel convention: pixel ``i`` spans ``[i, i + 1)`` and belongs to a zone when its
centre ``i + 0.5`` lies inside it (half-open edges).  Cells of one grid share
their corner coordinates exactly, so with ``cell_margin = 0`` every pixel of the
grid lands in exactly one cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.draw import polygon as draw_polygon

from fieldagent.roi.config import GridZone, PolygonZone, RectZone, polygon_area
from fieldagent.roi.grid import LeafZone, expand_zones, grid_cells

__all__ = ["LeafZone", "ZoneGeometry", "expand_zones", "grid_cells", "rasterize"]


@dataclass(frozen=True)
class ZoneGeometry:
    """One leaf zone in pixels of the analysis image.

    ``mask`` is cropped to ``bbox`` (x0, y0, x1, y1, clipped to the frame, x1/y1
    exclusive); ``visible`` is the share of the zone's area inside the frame
    (below 1 when a camera shift pushed part of it out).
    """

    id: str
    mask: np.ndarray
    bbox: tuple[int, int, int, int]
    visible: float = 1.0


def rasterize(
    zones: Sequence[RectZone | PolygonZone | GridZone],
    shape: tuple[int, int],
    *,
    shift_xy: tuple[float, float] = (0.0, 0.0),
) -> list[ZoneGeometry]:
    """Pixel masks of the (expanded) zones on an image of ``shape`` (H, W).

    ``shift_xy`` is the camera displacement in analysis pixels reported by the
    quality check: content that moved by +dx is followed by moving the zone by +dx.
    """
    h, w = int(shape[0]), int(shape[1])
    dx, dy = float(shift_xy[0]), float(shift_xy[1])
    out = []
    for zone in expand_zones(zones):
        if isinstance(zone, RectZone):
            out.append(_rasterize_rect(zone, h, w, dx, dy))
        else:
            out.append(_rasterize_polygon(zone, h, w, dx, dy))
    return out


def _rasterize_rect(zone: RectZone, h: int, w: int, dx: float, dy: float) -> ZoneGeometry:
    x0f, y0f, x1f, y1f = zone.box
    # pixel i is inside when its centre i + 0.5 lies in [x0, x1)
    cols = [math.ceil(x * w + dx - 0.5) for x in (x0f, x1f)]
    rows = [math.ceil(y * h + dy - 0.5) for y in (y0f, y1f)]
    full = max(cols[1] - cols[0], 0) * max(rows[1] - rows[0], 0)
    x0, x1 = _clip(cols[0], w), _clip(cols[1], w)
    y0, y1 = _clip(rows[0], h), _clip(rows[1], h)
    x1, y1 = max(x0, x1), max(y0, y1)
    mask = np.ones((y1 - y0, x1 - x0), dtype=bool)
    visible = mask.size / full if full else 0.0
    return ZoneGeometry(zone.id, mask, (x0, y0, x1, y1), min(visible, 1.0))


def _rasterize_polygon(zone: PolygonZone, h: int, w: int, dx: float, dy: float) -> ZoneGeometry:
    # vertices in pixel-centre coordinates: pixel (row i, col j) is the point (j, i)
    xs = np.array([p[0] for p in zone.points], dtype=np.float64) * w + dx - 0.5
    ys = np.array([p[1] for p in zone.points], dtype=np.float64) * h + dy - 0.5
    raw = (math.ceil(xs.min()), math.ceil(ys.min()), math.floor(xs.max()) + 1,
           math.floor(ys.max()) + 1)
    x0, y0, x1, y1 = _clip(raw[0], w), _clip(raw[1], h), _clip(raw[2], w), _clip(raw[3], h)
    x1, y1 = max(x0, x1), max(y0, y1)
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    if mask.size:
        rr, cc = draw_polygon(ys - y0, xs - x0, shape=mask.shape)
        mask[rr, cc] = True
    visible = 1.0
    if (x0, y0, x1, y1) != raw:  # only a zone reaching past the frame edge needs the ratio
        area = abs(polygon_area(list(zip(xs.tolist(), ys.tolist(), strict=True))))
        visible = min(float(mask.sum()) / area, 1.0) if area > 0 else 0.0
    return ZoneGeometry(zone.id, mask, (x0, y0, x1, y1), visible)


def _clip(v: int, hi: int) -> int:
    return min(max(v, 0), hi)
