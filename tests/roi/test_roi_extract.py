"""Regions of interest: per-zone plant masks, flags and crops."""

from __future__ import annotations

import numpy as np
import pytest

from fieldagent.roi.config import GridZone, RectZone, SegmentationConfig, whole_frame_zone
from fieldagent.roi.extract import border_share, crop, extract_rois
from fieldagent.roi.segment import segment_plants
from fieldagent.synth import SceneSpec, render

CFG = SegmentationConfig()


def bench(shape: tuple[int, int] = (300, 400)) -> np.ndarray:
    """Grainy brown soil."""
    rng = np.random.default_rng(0)
    soil = np.array([0.24, 0.17, 0.11], np.float32) * rng.uniform(0.6, 1.3, (*shape, 1))
    return soil.astype(np.float32)


def with_leaf(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    out = rgb.copy()
    out[y0:y1, x0:x1] = (0.25, 0.55, 0.18)
    return out


def test_grid_cells_find_their_plants_and_crop_the_bbox() -> None:
    sc = render(SceneSpec(seed=1, width=1024, height=768))
    rgb = sc.image.astype(np.float32) / 255.0
    grid = GridZone(kind="grid", id="B", box=sc.grid_box, rows=3, cols=4)
    rois = extract_rois(rgb, [grid], config=CFG)
    assert [r.id for r in rois][:2] == ["B-r1c1", "B-r1c2"] and len(rois) == 12
    for roi, plant in zip(rois, sc.plants, strict=True):
        x0, y0, x1, y1 = roi.bbox
        truth = sc.plant_mask[y0:y1, x0:x1] & roi.zone_mask
        inter = (roi.plant_mask & truth).sum()
        assert inter / (roi.plant_mask | truth).sum() > 0.85, plant.index
        assert not (roi.plant_mask & ~roi.zone_mask).any()
        c = crop(rgb, roi)
        assert c.shape == (*roi.zone_mask.shape, 3) and c.dtype == np.float32
        assert np.shares_memory(c, rgb)


def test_whole_frame_mask_and_per_zone_segmentation_agree() -> None:
    sc = render(SceneSpec(seed=2, width=1024, height=768))
    rgb = sc.image.astype(np.float32) / 255.0
    grid = GridZone(kind="grid", id="G", box=sc.grid_box, rows=3, cols=4, cell_margin=0.05)
    frame = segment_plants(rgb, config=CFG)
    shared = extract_rois(rgb, [grid], config=CFG, plant_mask=frame)
    own = extract_rois(rgb, [grid], config=CFG)
    for a, b in zip(shared, own, strict=True):
        assert a.bbox == b.bbox
        overlap = (a.plant_mask & b.plant_mask).sum() / max((a.plant_mask | b.plant_mask).sum(), 1)
        assert overlap > 0.95


def test_empty_zone_is_flagged_empty() -> None:
    rgb = with_leaf(bench(), (40, 40, 100, 100))
    zones = [RectZone(kind="rect", id="leaf", box=(0.05, 0.05, 0.3, 0.4)),
             RectZone(kind="rect", id="bare", box=(0.5, 0.5, 0.9, 0.9))]
    leaf, bare = extract_rois(rgb, zones, config=CFG)
    assert "empty" not in leaf.flags and leaf.plant_mask.sum() == 60 * 60
    assert bare.flags == ("empty",) and bare.plant_fraction == 0.0


def test_plant_running_over_the_zone_edge_is_flagged() -> None:
    rgb = with_leaf(bench(), (100, 100, 300, 200))
    inside = RectZone(kind="rect", id="in", box=(0.2, 0.25, 0.8, 0.75))    # leaf well inside
    tight = RectZone(kind="rect", id="tight", box=(0.3, 0.3, 0.6, 0.7))    # leaf spills out
    a, b = extract_rois(rgb, [inside, tight], config=CFG)
    assert "touches_border" not in a.flags
    assert "touches_border" in b.flags
    strict = CFG.model_copy(update={"border_touch_fraction": 1.0})
    (c,) = extract_rois(rgb, [tight], config=strict)
    assert "touches_border" not in c.flags


def test_zone_shifted_out_of_the_frame_is_clipped_or_empty() -> None:
    rgb = with_leaf(bench(), (300, 100, 400, 200))
    zone = RectZone(kind="rect", id="edge", box=(0.7, 0.3, 1.0, 0.7))
    (half,) = extract_rois(rgb, [zone], config=CFG, shift_xy=(60.0, 0.0))
    assert "clipped" in half.flags and "empty" not in half.flags
    (gone,) = extract_rois(rgb, [zone], config=CFG, shift_xy=(400.0, 0.0))
    assert set(gone.flags) == {"empty", "clipped"}
    assert crop(rgb, gone).size == 0


def test_zones_follow_the_plant_when_the_camera_moves() -> None:
    rgb = with_leaf(bench(), (100, 100, 160, 160))
    moved = np.roll(rgb, (15, 25), axis=(0, 1))  # content moved by dx=25, dy=15
    zone = RectZone(kind="rect", id="z", box=(0.2, 0.3, 0.45, 0.6))
    (before,) = extract_rois(rgb, [zone], config=CFG)
    (after,) = extract_rois(moved, [zone], config=CFG, shift_xy=(25.0, 15.0))
    np.testing.assert_array_equal(before.plant_mask, after.plant_mask)


def test_border_share_counts_the_frame_edge_as_border() -> None:
    zone = np.ones((10, 10), bool)
    plant = np.zeros_like(zone)
    plant[0, :] = True
    assert border_share(zone, plant) == pytest.approx(10 / 36)
    assert border_share(np.zeros_like(zone), plant) == 0.0


def test_mismatched_plant_mask_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        extract_rois(bench(), [whole_frame_zone()], config=CFG, plant_mask=np.zeros((3, 3), bool))
