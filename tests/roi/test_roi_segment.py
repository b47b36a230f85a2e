"""Plant segmentation: against the scene generator's ground truth (healthy and stressed),
on hand-made stressed leaves, and for plausibility on the real photos."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from fieldagent.roi.config import GridZone, SegmentationConfig
from fieldagent.roi.extract import extract_rois
from fieldagent.roi.segment import exg, exgr, segment_plants
from fieldagent.synth import SceneSpec, render
from tests.support.photos import REAL, photo

ALL = dict.fromkeys(range(12))
STRESS = {
    "healthy": {},
    "chlorosis": {i: ("chlorosis", 0.9) for i in ALL},
    "necrosis": {i: ("necrosis", 0.9) for i in ALL},
    "necrosis_full": {i: ("necrosis", 1.0) for i in ALL},
    "mixed": {
        0: ("chlorosis", 1.0),
        1: ("necrosis", 1.0),
        2: ("wilting", 0.9),
        5: ("stunted", 0.9),
    },
}


@cache
def scene(seed: int, condition: str) -> tuple[np.ndarray, np.ndarray]:
    """A generated bench at analysis size: float image and ground-truth plant mask."""
    sc = render(SceneSpec(seed=seed, width=1024, height=768, stress=STRESS[condition]))
    return sc.image.astype(np.float32) / 255.0, sc.plant_mask



def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("condition", list(STRESS))
def test_mask_matches_generator_truth_healthy_and_stressed(seed: int, condition: str) -> None:
    rgb, truth = scene(seed, condition)
    assert iou(segment_plants(rgb), truth) >= 0.85


@pytest.mark.parametrize("condition", ["chlorosis", "necrosis", "necrosis_full"])
def test_yellow_and_brown_tissue_stays_in_the_mask(condition: str) -> None:
    """The point of the design: non-green tissue is kept, where plain ExGR > 0 drops it."""
    rgb, truth = scene(0, condition)
    not_green = truth & (exgr(rgb) <= 0.05)
    assert not_green.sum() > 0.15 * truth.sum(), "the scene should show real symptoms"
    mask = segment_plants(rgb)
    assert (mask & not_green).sum() >= 0.85 * not_green.sum()
    if condition != "chlorosis":  # pale yellow keeps ExGR slightly > 0, brown does not
        assert iou(exgr(rgb) > 0, truth) < 0.6


def test_exg_otsu_method_agrees_on_generated_scenes() -> None:
    rgb, truth = scene(3, "necrosis")
    cfg = SegmentationConfig(method="exg_otsu")
    assert iou(segment_plants(rgb, config=cfg), truth) >= 0.85
    assert iou(segment_plants(rgb, method="exg_otsu"), truth) >= 0.85


def soil_bed(shape: tuple[int, int], seed: int = 1) -> np.ndarray:
    """Brown, grainy soil with light perlite specks, like a real pot seen from above."""
    rng = np.random.default_rng(seed)
    soil = np.array([0.24, 0.17, 0.11], np.float32) * rng.uniform(0.6, 1.3, (*shape, 1))
    specks = rng.random(shape) < 0.03
    soil[specks] = [0.78, 0.76, 0.70]
    return np.clip(soil, 0, 1).astype(np.float32)


def leaf_disc(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


@pytest.mark.parametrize(
    ("name", "colour"),
    [
        ("yellow", (0.80, 0.74, 0.22)),
        ("pale", (0.70, 0.72, 0.35)),
        ("brown", (0.47, 0.31, 0.14)),
        ("dark_brown", (0.30, 0.18, 0.08)),
    ],
)
def test_discoloured_half_of_a_leaf_is_kept_and_soil_is_not(name: str, colour: tuple) -> None:
    shape = (240, 320)
    rgb = soil_bed(shape)
    leaf = leaf_disc(shape, (120, 160), 70)
    sick = leaf & (np.mgrid[: shape[0], : shape[1]][1] > 160)
    rgb[leaf] = (0.25, 0.55, 0.18)
    rgb[sick] = colour
    rgb += np.random.default_rng(2).normal(0, 0.01, rgb.shape).astype(np.float32)
    mask = segment_plants(np.clip(rgb, 0, 1))
    assert (mask & sick).sum() >= 0.9 * sick.sum(), f"{name} tissue lost"
    assert (mask & ~leaf).sum() <= 0.02 * leaf.sum(), "soil taken as plant"


def test_soil_alone_or_a_grey_frame_gives_an_empty_mask() -> None:
    assert not segment_plants(soil_bed((200, 200))).any()
    assert not segment_plants(np.full((50, 60, 3), 0.5, np.float32)).any()
    assert not segment_plants(np.zeros((50, 60, 3), np.float32)).any()


def test_mask_argument_confines_the_result() -> None:
    rgb, truth = scene(0, "healthy")
    zone = np.zeros(truth.shape, bool)
    zone[:, : truth.shape[1] // 2] = True
    mask = segment_plants(rgb, mask=zone)
    assert not (mask & ~zone).any()
    assert iou(mask, truth & zone) >= 0.85
    assert not segment_plants(rgb, mask=np.zeros_like(zone)).any()


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB"):
        segment_plants(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="unknown"):
        segment_plants(np.zeros((10, 10, 3), np.float32) + 0.3, method="ndvi")


def test_index_functions_rank_green_above_soil() -> None:
    px = np.array([[[0.25, 0.55, 0.18], [0.24, 0.17, 0.11], [0.5, 0.5, 0.5]]], np.float32)
    assert exgr(px)[0, 0] > 0 > exgr(px)[0, 1]
    assert exg(px)[0, 0] > exg(px)[0, 2] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.skipif(not REAL.is_dir(), reason="real photos not available")
class TestRealPhotos:
    """Plausibility on real cameras: plants found, soil, pots, benches and walls not."""

    def test_arabidopsis_tray_rosettes_fill_the_pot_grid(self) -> None:
        rgb = photo("arabidopsis_tray.jpg")
        mask = segment_plants(rgb)
        assert 0.04 < mask.mean() < 0.12
        tray = GridZone(kind="grid", id="T", box=(0.05, 0.26, 0.94, 0.97), rows=3, cols=5)
        rois = extract_rois(rgb, [tray], config=SegmentationConfig(), plant_mask=mask)
        assert sum("empty" not in r.flags for r in rois) >= 14
        assert all(r.plant_fraction < 0.35 for r in rois), "soil taken as plant"
        h, w = mask.shape
        trays = np.zeros_like(mask)
        trays[: int(0.25 * h), int(0.05 * w) : int(0.95 * w)] = True
        trays[int(0.26 * h) :, int(0.05 * w) : int(0.94 * w)] = True
        assert (mask & trays).sum() >= 0.97 * mask.sum()

    def test_leaves_on_cloth_are_found_and_the_cloth_is_not(self) -> None:
        mask = segment_plants(photo("leaves_16mp.jpg"))
        assert 0.2 < mask.mean() < 0.35
        for x0, y0, x1, y1 in [(250, 150, 300, 200), (380, 400, 420, 460)]:  # inside leaves
            assert mask[y0:y1, x0:x1].mean() > 0.9
        for x0, y0, x1, y1 in [(50, 300, 120, 500), (900, 400, 1000, 600)]:  # black cloth
            assert mask[y0:y1, x0:x1].mean() < 0.01

    @pytest.mark.parametrize(
        ("name", "box"),
        [
            ("plantcv_vis_side.jpg", (380, 300, 660, 780)),
            ("plantcv_fusion_rgb.png", (190, 270, 430, 420)),
        ],
    )
    def test_side_views_find_only_the_plant(self, name: str, box: tuple) -> None:
        mask = segment_plants(photo(name))
        x0, y0, x1, y1 = box
        assert 0.005 < mask.mean() < 0.04
        assert mask[y0:y1, x0:x1].sum() >= 0.98 * mask.sum(), "walls, pot or frame taken"

    def test_small_tray_photo(self) -> None:
        assert 0.05 < segment_plants(photo("plantcv_multi_tray.jpg")).mean() < 0.15


@pytest.mark.parametrize("warmth", [-0.6, 0.6])
def test_colour_cast_does_not_turn_pots_into_plants(warmth: float) -> None:
    """Dusk light and sodium lamps tint the whole frame; green plastic must stay background."""
    from fieldagent.synth import SceneSpec, render

    worst = 1.0
    for seed in range(10):
        scene = render(SceneSpec(width=1024, height=768, seed=seed, warmth=warmth))
        mask = segment_plants(scene.image.astype(np.float32) / 255)
        truth = scene.plant_mask
        worst = min(worst, float((mask & truth).sum() / (mask | truth).sum()))
    assert worst >= 0.9, f"IoU fell to {worst:.3f} under warmth {warmth}"
