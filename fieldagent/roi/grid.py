"""Grids expanded into cells: pure geometry in relative coordinates, no arrays.

Kept apart from :mod:`fieldagent.roi.zones` (which rasterises with numpy and
scikit-image) because the site config expands grids while it validates, and
loading a config must not load the image stack.
"""

from __future__ import annotations

from collections.abc import Sequence

from fieldagent.roi.config import GridZone, PolygonZone, RectZone

LeafZone = RectZone | PolygonZone


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
