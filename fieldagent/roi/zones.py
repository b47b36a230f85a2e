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

LeafZone = RectZone | PolygonZone


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


def expand_zones(zones: Sequence[RectZone | PolygonZone | GridZone]) -> list[LeafZone]:
    """Replace each grid by its cells (row-major: r1c1, r1c2, ...); other zones pass through."""
    out: list[LeafZone] = []
    for zone in zones:
        if isinstance(zone, GridZone):
            out.extend(grid_cells(zone))
        else:
            out.append(zone)
    return out


def grid_cells(grid: GridZone) -> list[LeafZone]:
    """The cells of a grid: rectangles for a box, bilinear quadrilaterals for 4 corners."""
    us = _trimmed_edges(grid.cols, grid.cell_margin)
    vs = _trimmed_edges(grid.rows, grid.cell_margin)
    cells: list[LeafZone] = []
    for r, (v0, v1) in enumerate(vs):
        for c, (u0, u1) in enumerate(us):
            cid = f"{grid.id}-r{r + 1}c{c + 1}"
            if grid.box is not None:
                x0, y0, x1, y1 = grid.box
                box = (_lerp(x0, x1, u0), _lerp(y0, y1, v0), _lerp(x0, x1, u1), _lerp(y0, y1, v1))
                cells.append(RectZone(kind="rect", id=cid, box=box))
            else:
                quad = list(grid.points or [])
                pts = [_bilinear(quad, u, v) for u, v in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))]
                cells.append(PolygonZone(kind="polygon", id=cid, points=pts))
    return cells


def _trimmed_edges(n: int, margin: float) -> list[tuple[float, float]]:
    """Cell edges in [0, 1]; neighbours share the exact same float when margin is 0."""
    edges = [i / n for i in range(n + 1)]
    trim = margin / n
    return [(edges[i] + trim, edges[i + 1] - trim) for i in range(n)]


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _bilinear(quad: list[tuple[float, float]], u: float, v: float) -> tuple[float, float]:
    """Point (u, v) of the quadrilateral TL, TR, BR, BL; clamped against float round-off."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = quad
    x = (1 - u) * (1 - v) * ax + u * (1 - v) * bx + u * v * cx + (1 - u) * v * dx
    y = (1 - u) * (1 - v) * ay + u * (1 - v) * by + u * v * cy + (1 - u) * v * dy
    return (min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0))


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
