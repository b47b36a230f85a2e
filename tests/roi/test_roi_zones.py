"""Zone definitions: validation, grid expansion, rasterisation and camera-shift following."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from fieldagent.roi.config import (
    GridZone,
    PolygonZone,
    RectZone,
    SegmentationConfig,
    Zone,
    whole_frame_zone,
)
from fieldagent.roi.zones import ZoneGeometry, expand_zones, rasterize

SHAPE = (480, 640)
QUAD = [(0.10, 0.12), (0.93, 0.05), (0.88, 0.90), (0.05, 0.80)]


def coverage(geos: list[ZoneGeometry], shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """How many zones cover each pixel of the frame."""
    count = np.zeros(shape, dtype=int)
    for g in geos:
        x0, y0, x1, y1 = g.bbox
        count[y0:y1, x0:x1] += g.mask
    return count


def test_zone_union_parses_each_kind_from_config_dicts() -> None:
    zones = TypeAdapter(list[Zone]).validate_python([
        {"kind": "rect", "id": "A", "box": [0, 0, 0.5, 0.5]},
        {"kind": "polygon", "id": "P", "points": [[0.1, 0.1], [0.9, 0.2], [0.5, 0.9]]},
        {"kind": "grid", "id": "B", "box": [0, 0, 1, 1], "rows": 2, "cols": 3},
    ])
    assert [type(z) for z in zones] == [RectZone, PolygonZone, GridZone]


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ({"kind": "rect", "id": "A", "box": [0.5, 0.1, 0.2, 0.9]}, "x0 < x1"),
        ({"kind": "polygon", "id": "P", "points": [[0.1, 0.1], [0.5, 0.5]]}, "at least 3"),
        ({"kind": "polygon", "id": "P", "points": [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]},
         "enclose no area"),
        ({"kind": "polygon", "id": "P", "points": [[0.1, 0.1], [1.5, 0.5], [0.2, 0.9]]},
         "less than or equal to 1"),
        ({"kind": "grid", "id": "G", "rows": 2, "cols": 2}, "exactly one of 'points'"),
        ({"kind": "grid", "id": "G", "box": [0, 0, 1, 1], "points": QUAD}, "exactly one of"),
        ({"kind": "grid", "id": "G", "points": QUAD[:3]}, "exactly 4 corners"),
        ({"kind": "grid", "id": "G", "points": [QUAD[0], QUAD[2], QUAD[1], QUAD[3]]},
         "convex quadrilateral"),
        ({"kind": "rect", "id": "bad id!", "box": [0, 0, 1, 1]}, "should match pattern"),
        ({"kind": "rect", "id": "A", "box": [0, 0, 1, 1], "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_zones_are_refused_with_a_clear_message(zone: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(Zone).validate_python(zone)


def test_default_zone_is_the_whole_frame() -> None:
    (geo,) = rasterize([whole_frame_zone()], SHAPE)
    assert geo.id == "frame" and geo.bbox == (0, 0, 640, 480) and geo.mask.all()


def test_grid_expands_to_named_cells_in_row_major_order() -> None:
    grid = GridZone(kind="grid", id="B", box=(0.1, 0.1, 0.9, 0.7), rows=3, cols=4)
    ids = [z.id for z in expand_zones([grid, whole_frame_zone()])]
    assert len(ids) == 13
    assert ids[:5] == ["B-r1c1", "B-r1c2", "B-r1c3", "B-r1c4", "B-r2c1"]
    assert ids[-2:] == ["B-r3c4", "frame"]


@pytest.mark.parametrize(
    "grid",
    [
        GridZone(kind="grid", id="Q", points=QUAD, rows=3, cols=4),
        GridZone(kind="grid", id="R", box=(0.05, 0.1, 0.95, 0.85), rows=5, cols=7),
    ],
    ids=["quadrilateral", "box"],
)
def test_grid_cells_tile_the_grid_without_overlap_or_gap(grid: GridZone) -> None:
    cells = rasterize([grid], SHAPE)
    outline = (
        PolygonZone(kind="polygon", id="all", points=grid.points)
        if grid.points
        else RectZone(kind="rect", id="all", box=grid.box or (0, 0, 1, 1))
    )
    whole = coverage(rasterize([outline], SHAPE))
    count = coverage(cells)
    assert count.max() == 1, "a pixel belongs to two cells"
    # the union is the grid's outline (up to float round-off on a few outline pixels)
    assert (count != whole).sum() <= 10
    sizes = [int(c.mask.sum()) for c in cells]
    assert min(sizes) > 0.5 * max(sizes)


def test_cell_margin_trims_each_cell_inside_its_slot() -> None:
    plain = GridZone(kind="grid", id="G", points=QUAD, rows=2, cols=2)
    trimmed = plain.model_copy(update={"cell_margin": 0.2})
    full, inner = coverage(rasterize([plain], SHAPE)), coverage(rasterize([trimmed], SHAPE))
    assert (inner <= full).all()
    # trimming 20 % on each side keeps about 0.6 x 0.6 of every cell
    assert 0.30 < inner.sum() / full.sum() < 0.42
    # the trimmed cells no longer touch each other: no pixel neighbours another cell's
    label = np.zeros(SHAPE, dtype=int)
    for i, g in enumerate(rasterize([trimmed], SHAPE), start=1):
        x0, y0, x1, y1 = g.bbox
        label[y0:y1, x0:x1][g.mask] = i
    for a, b in ((label[:, 1:], label[:, :-1]), (label[1:], label[:-1])):
        assert not ((a > 0) & (b > 0) & (a != b)).any()


@pytest.mark.parametrize("shift", [(12.0, -7.0), (-30.5, 18.25)])
def test_zones_follow_the_camera_shift(shift: tuple[float, float]) -> None:
    zones = [
        RectZone(kind="rect", id="r", box=(0.3, 0.3, 0.6, 0.7)),
        PolygonZone(kind="polygon", id="p", points=[(0.2, 0.2), (0.5, 0.25), (0.35, 0.6)]),
    ]
    dx, dy = shift
    for before, after in zip(rasterize(zones, SHAPE), rasterize(zones, SHAPE, shift_xy=shift),
                             strict=True):
        a, b = coverage([before]), coverage([after])
        ya, xa = np.argwhere(a).mean(axis=0)
        yb, xb = np.argwhere(b).mean(axis=0)
        assert xb - xa == pytest.approx(dx, abs=0.6)
        assert yb - ya == pytest.approx(dy, abs=0.6)
        assert abs(int(a.sum()) - int(b.sum())) <= 0.02 * a.sum()


def test_zone_pushed_past_the_frame_edge_is_clipped_and_reports_visibility() -> None:
    zone = RectZone(kind="rect", id="edge", box=(0.8, 0.2, 1.0, 0.4))
    (geo,) = rasterize([zone], SHAPE, shift_xy=(64.0, 0.0))  # half of its 128 px width leaves
    x0, _, x1, _ = geo.bbox
    assert x1 == SHAPE[1] and x1 - x0 == 64
    assert geo.visible == pytest.approx(0.5, abs=0.02)
    (gone,) = rasterize([zone], SHAPE, shift_xy=(500.0, 0.0))
    assert gone.mask.size == 0 and gone.visible == 0.0


def test_polygon_rasterises_to_its_area() -> None:
    tri = PolygonZone(kind="polygon", id="t", points=[(0.1, 0.1), (0.9, 0.1), (0.1, 0.9)])
    (geo,) = rasterize([tri], SHAPE)
    expected = 0.5 * (0.8 * SHAPE[1]) * (0.8 * SHAPE[0])
    assert geo.mask.sum() == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tissue_hue_min_deg": 80.0, "tissue_hue_max_deg": 125.0, "vivid_hue_max_deg": 120.0},
         "hue limits"),
        ({"seed_exgr": 0.2, "seed_exgr_max": 0.1}, "seed_exgr"),
        ({"pale_min_saturation": 0.5}, "pale_min_saturation"),
        ({"min_object_px": -1}, "greater than or equal"),
    ],
)
def test_segmentation_config_cross_checks_raise(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SegmentationConfig(**fields)
