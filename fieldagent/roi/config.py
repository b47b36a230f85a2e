"""Zone definitions and segmentation settings, as config sections.

Zones are drawn by the site technician in *fractions* of the frame (x right,
y down, 0..1), so one definition holds at any resolution.  Three kinds:

* ``rect``: an axis-aligned box ``(x0, y0, x1, y1)``;
* ``polygon``: three or more points;
* ``grid``: a pot tray, given as a box or as a 4-point quadrilateral (corners in
  order top-left, top-right, bottom-right, bottom-left, so a tray seen at an
  angle still works), split into ``rows x cols`` cells named ``{id}-r{row}c{col}``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fieldagent.config.base import Section

Frac = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Frac, Frac]
Box = tuple[Frac, Frac, Frac, Frac]

# Cell ids append "-rNNcNN", so zone ids stay short enough to remain <= 64 characters.
_ZONE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$"
_ID_HELP = "zone id (1-48 letters, digits, '_', '.', '-'); shown in alerts, part of object keys"
# Smaller than 1e-6 of the frame is under one pixel even on a 16 MP camera.
_MIN_AREA = 1e-6


def polygon_area(points: list[tuple[float, float]]) -> float:
    """Signed shoelace area (positive when the points run clockwise on screen, y down)."""
    total = 0.0
    for (xa, ya), (xb, yb) in zip(points, points[1:] + points[:1], strict=True):
        total += xa * yb - xb * ya
    return total / 2.0


def _check_box(box: tuple[float, float, float, float], where: str) -> None:
    x0, y0, x1, y1 = box
    if not (x0 < x1 and y0 < y1):
        raise ValueError(
            f"{where} box {list(box)} is empty: it must be [x0, y0, x1, y1] with x0 < x1 and "
            "y0 < y1, as fractions of the frame (0..1)"
        )


def crossing_edges(points: list[tuple[float, float]]) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (by index) that cross, or None for a simple
    polygon. Edge i runs from point i to point i+1 (the last back to the first)."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:  # they share the first point
                continue
            if _segments_cross(*edges[i], *edges[j]):
                return i, j
    return None


def _segments_cross(a: tuple[float, float], b: tuple[float, float],
                    c: tuple[float, float], d: tuple[float, float]) -> bool:
    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2, d3, d4 = side(c, d, a), side(c, d, b), side(a, b, c), side(a, b, d)
    return ((d1 > 0) != (d2 > 0) and d1 != 0 and d2 != 0
            and (d3 > 0) != (d4 > 0) and d3 != 0 and d4 != 0)


def _check_polygon(points: list[tuple[float, float]], where: str) -> None:
    if len(points) < 3:
        raise ValueError(f"{where} has {len(points)} point(s); a polygon needs at least 3")
    crossing = crossing_edges(list(points))
    if crossing is not None:
        i, j = crossing
        n = len(points)
        raise ValueError(
            f"{where} points {[list(p) for p in points]} cross themselves (the edge from "
            f"point {i + 1} to {(i + 1) % n + 1} crosses the edge from point {j + 1} to "
            f"{(j + 1) % n + 1}, a bow-tie); list the corners in order around the region")
    if abs(polygon_area(list(points))) < _MIN_AREA:
        raise ValueError(
            f"{where} points {[list(p) for p in points]} enclose no area (all on one line or "
            "repeated); give the corners of the region as fractions of the frame"
        )


def _check_quad(points: list[tuple[float, float]], where: str) -> None:
    """A grid quadrilateral must be convex, else the bilinear cells would fold over."""
    if len(points) != 4:
        raise ValueError(
            f"{where} has {len(points)} points; a grid needs exactly 4 corners "
            "(top-left, top-right, bottom-right, bottom-left) or a 'box'"
        )
    signs = set()
    for i in range(4):
        (xa, ya), (xb, yb), (xc, yc) = points[i], points[(i + 1) % 4], points[(i + 2) % 4]
        signs.add((xb - xa) * (yc - yb) - (yb - ya) * (xc - xb) > 0)
    if len(signs) != 1 or crossing_edges(points) is not None:
        raise ValueError(
            f"{where} corners {[list(p) for p in points]} do not form a convex quadrilateral; "
            "list them in order around the tray: top-left, top-right, bottom-right, bottom-left"
        )
    _check_polygon(points, where)


class RectZone(Section):
    """An axis-aligned rectangle."""

    kind: Literal["rect"] = Field("rect", description="zone kind")
    id: str = Field(..., pattern=_ZONE_ID, description=_ID_HELP)
    box: Box = Field((0.0, 0.0, 1.0, 1.0), description="[x0, y0, x1, y1] fractions of the frame")

    @model_validator(mode="after")
    def _valid_box(self) -> RectZone:
        _check_box(self.box, f"zone {self.id!r}:")
        return self


class PolygonZone(Section):
    """A free polygon (a bench, a bed, an odd-shaped tray)."""

    kind: Literal["polygon"] = Field("polygon", description="zone kind")
    id: str = Field(..., pattern=_ZONE_ID, description=_ID_HELP)
    points: list[Point] = Field(
        ..., min_length=3, max_length=200, description="[[x, y], ...] fractions of the frame"
    )

    @model_validator(mode="after")
    def _valid_polygon(self) -> PolygonZone:
        _check_polygon(list(self.points), f"zone {self.id!r}:")
        return self


class GridZone(Section):
    """A pot grid: one zone per pot, from a box or a (perspective) quadrilateral."""

    kind: Literal["grid"] = Field("grid", description="zone kind")
    id: str = Field(..., pattern=_ZONE_ID, description=_ID_HELP)
    points: list[Point] | None = Field(
        None, description="4 corners: top-left, top-right, bottom-right, bottom-left (fractions)"
    )
    box: Box | None = Field(None, description="[x0, y0, x1, y1] fractions; instead of 'points'")
    rows: int = Field(1, ge=1, le=50, description="pot rows (top to bottom)")
    cols: int = Field(1, ge=1, le=50, description="pot columns (left to right)")
    cell_margin: float = Field(
        0.0, ge=0.0, le=0.45, description="share of each cell trimmed on every side (pot rims)"
    )

    @model_validator(mode="after")
    def _valid_grid(self) -> GridZone:
        where = f"grid zone {self.id!r}:"
        if (self.points is None) == (self.box is None):
            raise ValueError(f"{where} give exactly one of 'points' (4 corners) or 'box'")
        if self.box is not None:
            _check_box(self.box, where)
        else:
            _check_quad(list(self.points or []), where)
        return self


Zone = Annotated[RectZone | PolygonZone | GridZone, Field(discriminator="kind")]


def whole_frame_zone() -> RectZone:
    """The default zone: the whole frame, id ``frame``."""
    return RectZone(kind="rect", id="frame", box=(0.0, 0.0, 1.0, 1.0))


class SegmentationConfig(Section):
    """Plant-versus-background segmentation (see ``fieldagent.roi.segment``).

    Pixel sizes are at analysis scale (long side ``analysis.max_side``, ~1024 px).
    """

    method: Literal["exgr", "exg_otsu"] = Field(
        "exgr", description="green seeds: ExGR > seed_exgr, or ExG above its Otsu threshold"
    )
    white_balance_p: float = Field(
        6.0, ge=0.0, le=20.0,
        description="shades-of-grey colour-cast correction before segmenting (Minkowski norm p; "
        "0 = off): warm dusk light or HPS lamps otherwise turn green pots into 'leaves'",
    )
    seed_exgr: float = Field(
        0.0, ge=-0.5, le=1.0, description="lowest ExGR seed threshold (Meyer & Neto's > 0)"
    )
    seed_exgr_max: float = Field(
        0.15, ge=-0.5, le=1.0, description="Otsu may raise the ExGR seed threshold up to this"
    )
    seed_min_value: float = Field(
        0.1, ge=0.0, le=1.0, description="seeds need this brightness (dark soil has noisy colour)"
    )
    tissue_hue_min_deg: float = Field(
        15.0, ge=0.0, le=90.0, description="plant-coloured tissue hue from (orange-brown)..."
    )
    tissue_hue_max_deg: float = Field(
        130.0, ge=120.0, le=180.0,
        description="...to this hue; bluer and dull is plastic (pots, trays), not leaf",
    )
    vivid_hue_max_deg: float = Field(
        150.0, ge=120.0, le=180.0,
        description="vivid pixels may be this blue (leaves under a cool white balance)",
    )
    vivid_min_saturation: float = Field(
        0.5, ge=0.0, le=1.0, description="saturation that makes a blue-green pixel 'vivid'"
    )
    tissue_min_saturation: float = Field(
        0.3, ge=0.0, le=1.0, description="tissue is more saturated than bench, pots, grey soil"
    )
    pale_min_saturation: float = Field(
        0.08, ge=0.0, le=1.0,
        description="paler pixels are never tissue; between this and tissue_min_saturation "
        "they must contrast with the soil (glare, pale spots)",
    )
    pale_min_brightness: float = Field(
        0.6, ge=0.0, le=2.0,
        description="pale candidates need this share of the leaves' median brightness",
    )
    tissue_min_value: float = Field(
        0.1, ge=0.0, le=1.0, description="darker pixels have too noisy a colour to call tissue"
    )
    contrast_hue_max_deg: float = Field(
        70.0, ge=0.0, le=120.0,
        description="tissue hues below this (yellow, brown) must contrast with the soil",
    )
    near_px: int = Field(
        16, ge=4, le=256,
        description="candidates this close to green seeds sample the tissue; the ring out to 4x "
        "as far samples the soil and bounds the search",
    )
    smooth_max_cv: float = Field(
        0.08, ge=0.0, le=1.0,
        description="3x3 brightness variation below this is smooth (leaf), above rough (soil)",
    )
    contrast_ratio: float = Field(
        2.0, ge=1.0, le=100.0,
        description="a warm or pale colour is tissue when this many times commoner (as a share) "
        "near the seeds than in the soil ring",
    )
    # Growth keeps yellow and brown tissue on real leaves (tests/roi/reference: mean IoU
    # 0.76 -> 0.89, stressed-tissue recall 0.28 -> 0.69); the soil right next to the plant
    # is sampled as soil, so small potted frames in bright sun no longer lose soil patches
    # to it (tests/pipeline/test_pipeline_light.py runs a realistic week with it on).
    grow_rounds: int = Field(
        4, ge=0, le=20,
        description="rounds of growing the plant into tissue whose colour is not the "
        "background's (0 = off: green seeds and soil-contrast tissue only, which loses "
        "most yellow and brown tissue)",
    )
    grow_px: int = Field(
        24, ge=2, le=256, description="how far past the plant each growth round looks"
    )
    background_band: float = Field(
        0.04, ge=0.0, le=0.25,
        description="the frame's (zone's) outer band, this share of its short side, samples "
        "the background, with every rough pixel away from the plant",
    )
    rough_ratio: float = Field(
        3.0, ge=1.0, le=20.0,
        description="3x3 brightness variation this many times the seeds' own is rough "
        "(soil, grit): sampled as background, never grown into",
    )
    grow_min_brightness: float = Field(
        0.5, ge=0.0, le=2.0,
        description="growth takes pixels at least this share of the seeds' median brightness "
        "(soil is darker than leaves; dark lesions inside a leaf come back as filled holes)",
    )
    shadow_max_value: float = Field(
        0.25, ge=0.0, le=1.0, description="darker and greyer pixels are shadow: never grown into"
    )
    shadow_max_saturation: float = Field(
        0.3, ge=0.0, le=1.0, description="...greyer than this saturation (see shadow_max_value)"
    )
    min_seed_px: int = Field(
        8, ge=1, le=100_000, description="a plant region must hold this many seed-core pixels"
    )
    seed_core_radius: int = Field(
        2, ge=0, le=10, description="plant regions need seeds this far inside (no edge fringes)"
    )
    opening_radius: int = Field(
        0, ge=0, le=10, description="opening of the tissue mask (drops specks touching leaves)"
    )
    min_object_px: int = Field(
        30, ge=0, le=1_000_000, description="plant regions smaller than this are noise"
    )
    max_hole_px: int = Field(
        64, ge=0, le=1_000_000, description="holes up to this size inside a plant are filled"
    )
    min_plant_fraction: float = Field(
        0.002, ge=0.0, le=1.0, description="a zone with less plant cover than this is 'empty'"
    )
    border_touch_fraction: float = Field(
        0.1, ge=0.0, le=1.0, description="plant on more of the zone border -> 'touches_border'"
    )
    clipped_fraction: float = Field(
        0.95, ge=0.0, le=1.0, description="less of the zone inside the frame -> 'clipped'"
    )

    @model_validator(mode="after")
    def _valid(self) -> SegmentationConfig:
        if not self.tissue_hue_min_deg < self.tissue_hue_max_deg <= self.vivid_hue_max_deg:
            raise ValueError(
                "hue limits must satisfy tissue_hue_min_deg < tissue_hue_max_deg <= "
                "vivid_hue_max_deg"
            )
        if self.seed_exgr > self.seed_exgr_max:
            raise ValueError("seed_exgr must not exceed seed_exgr_max")
        if self.pale_min_saturation > self.tissue_min_saturation:
            raise ValueError("pale_min_saturation must not exceed tissue_min_saturation")
        return self
