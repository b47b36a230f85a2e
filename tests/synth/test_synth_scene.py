"""Behaviour of the synthetic scene generator: determinism, ground truth, symptoms, faults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2gray
from skimage.registration import phase_cross_correlation

from fieldagent.synth import (
    CONDITIONS,
    MODEL_CLASSES,
    Scene,
    SceneSpec,
    blur,
    darken,
    haze,
    labelled_crops,
    overexpose,
    render,
    save_jpeg,
    series,
    shift,
)

SMALL = SceneSpec(width=640, height=480)
START = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bench() -> Scene:
    """The default full-size bench, rendered once for the tests that only look at it."""
    return render(SceneSpec())


def chroma(pixels: np.ndarray) -> np.ndarray:
    """Mean chromatic coordinates (r, g, b) = RGB / (R + G + B) of an (N, 3) pixel list."""
    rgb = pixels.astype(np.float64)
    return (rgb / np.maximum(rgb.sum(axis=1, keepdims=True), 1.0)).mean(axis=0)


def plant_pixels(scene: Scene, index: int) -> np.ndarray:
    """The image pixels of one plant's mask, as (N, 3)."""
    x0, y0, x1, y1 = scene.plants[index].pot_box
    mask = scene.plant_mask[y0:y1, x0:x1]
    return scene.image[y0:y1, x0:x1][mask]


def hf_energy(img: np.ndarray) -> float:
    """High-frequency energy: variance of the Laplacian of the grey image."""
    return float(ndimage.laplace(rgb2gray(img)).var())


def rms_contrast(img: np.ndarray) -> float:
    """RMS contrast: standard deviation of the grey image."""
    return float(rgb2gray(img).std())


def dark_channel(img: np.ndarray) -> float:
    """Mean of the per-pixel minimum over channels, minimum-filtered over 15 px patches."""
    return float(ndimage.minimum_filter(img.min(axis=2), size=15).mean())


# --- scene ---------------------------------------------------------------------------------


def test_same_spec_gives_identical_bytes_and_a_new_seed_changes_them() -> None:
    a, b = render(SMALL), render(SMALL)
    assert a.image.tobytes() == b.image.tobytes()
    assert np.array_equal(a.plant_mask, b.plant_mask)
    assert a.plants == b.plants
    c = render(SceneSpec(width=640, height=480, seed=1))
    assert c.image.tobytes() != a.image.tobytes()


def test_frame_seed_changes_only_the_sensor_noise() -> None:
    a = render(SMALL)
    b = render(SceneSpec(width=640, height=480, frame_seed=1))
    assert a.image.tobytes() != b.image.tobytes()
    assert np.array_equal(a.plant_mask, b.plant_mask)
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 4


def test_image_and_truth_have_the_documented_types(bench: Scene) -> None:
    assert bench.image.dtype == np.uint8 and bench.image.shape == (1200, 1600, 3)
    assert bench.plant_mask.dtype == bool and bench.plant_mask.shape == (1200, 1600)
    assert [p.index for p in bench.plants] == list(range(12))
    assert {(p.row, p.col) for p in bench.plants} == {(r, c) for r in range(3) for c in range(4)}
    assert all(p.condition == "healthy" and p.severity == 0.0 for p in bench.plants)


def test_plant_mask_is_a_plausible_fraction_and_lies_inside_the_pot_boxes(bench: Scene) -> None:
    assert 0.04 < bench.plant_mask.mean() < 0.4
    inside = np.zeros_like(bench.plant_mask)
    for plant in bench.plants:
        x0, y0, x1, y1 = plant.pot_box
        inside[y0:y1, x0:x1] = True
        share = bench.plant_mask[y0:y1, x0:x1].mean()
        assert 0.05 < share < 0.7, f"plant {plant.index} covers {share:.2f} of its pot box"
        cx, cy = plant.center_xy
        assert x0 < cx < x1 and y0 < cy < y1
    assert not (bench.plant_mask & ~inside).any()


def test_healthy_plants_are_green_and_differ_from_the_soil(bench: Scene) -> None:
    leaves = chroma(bench.image[bench.plant_mask])
    ground = chroma(bench.image[~bench.plant_mask])
    assert leaves[1] > 0.42, f"plant g-chromaticity {leaves[1]:.3f} is not green"
    assert leaves[1] - ground[1] > 0.08


def test_plant_mask_is_exact_green_inside_and_not_just_outside(bench: Scene) -> None:
    img = bench.image.astype(float)
    g = img[..., 1] / np.maximum(img.sum(axis=2), 1.0)
    ring = ndimage.binary_dilation(bench.plant_mask, iterations=3) & ~bench.plant_mask
    assert (g[bench.plant_mask] > 0.4).mean() > 0.97
    assert (g[ring] > 0.4).mean() < 0.2


def test_grid_box_splits_into_the_pot_boxes(bench: Scene) -> None:
    gx0, gy0, gx1, gy1 = bench.grid_box
    assert 0 <= gx0 < gx1 <= 1 and 0 <= gy0 < gy1 <= 1
    w, h = 1600, 1200
    for plant in bench.plants:
        expected = (gx0 + (gx1 - gx0) * plant.col / 4, gy0 + (gy1 - gy0) * plant.row / 3,
                    gx0 + (gx1 - gx0) * (plant.col + 1) / 4,
                    gy0 + (gy1 - gy0) * (plant.row + 1) / 3)
        got = np.array(plant.pot_box) / (w, h, w, h)
        assert np.allclose(got, expected, atol=1.0 / h)


@pytest.mark.parametrize("condition", ["chlorosis", "necrosis"])
def test_stressed_plants_are_yellower_or_browner_but_still_in_the_mask(condition: str) -> None:
    spec = SceneSpec(width=800, height=600, seed=3,
                     stress={i: (condition, 0.8) for i in (0, 5, 10)})
    scene = render(spec)
    healthy = render(SceneSpec(width=800, height=600, seed=3))
    for i in (0, 5, 10):
        sick, well = chroma(plant_pixels(scene, i)), chroma(plant_pixels(healthy, i))
        assert sick[1] < well[1] - 0.05, f"{condition} plant {i}: g {sick[1]:.3f} vs {well[1]:.3f}"
        assert sick[0] > well[0] + 0.05, f"{condition} plant {i}: r {sick[0]:.3f} vs {well[0]:.3f}"
        kept = len(plant_pixels(scene, i)) / len(plant_pixels(healthy, i))
        assert kept > 0.9, f"{condition} plant {i}: mask kept only {kept:.2f} of the tissue"
        assert scene.plants[i].condition == condition and scene.plants[i].severity == 0.8


def test_severity_increases_the_symptom() -> None:
    greens = []
    for severity in (0.0, 0.3, 0.6, 0.9):
        scene = render(SceneSpec(width=400, height=300, rows=1, cols=1,
                                 stress={0: ("chlorosis", severity)}))
        greens.append(chroma(plant_pixels(scene, 0))[1])
    assert greens == sorted(greens, reverse=True)


def test_wilting_is_duller_and_stunting_is_smaller() -> None:
    spec = SceneSpec(width=800, height=600, seed=4,
                     stress={1: ("wilting", 0.9), 2: ("stunted", 0.9)})
    scene, healthy = render(spec), render(SceneSpec(width=800, height=600, seed=4))
    wilt, well = plant_pixels(scene, 1).astype(float), plant_pixels(healthy, 1).astype(float)
    assert wilt.mean() < well.mean()
    assert np.ptp(wilt, axis=1).mean() < np.ptp(well, axis=1).mean()  # lower saturation
    assert len(plant_pixels(scene, 2)) < 0.5 * len(plant_pixels(healthy, 2))
    assert chroma(plant_pixels(scene, 2))[1] > 0.42  # stunted, but green


def test_rows_layout_has_plants_in_every_cell() -> None:
    scene = render(SceneSpec(width=900, height=600, layout="rows", rows=2, cols=5))
    assert len(scene.plants) == 10
    for plant in scene.plants:
        assert len(plant_pixels(scene, plant.index)) > 200


def test_growth_scales_the_plants() -> None:
    areas = [render(SceneSpec(width=640, height=480, growth=g)).plant_mask.sum()
             for g in (0.3, 1.0, 1.5)]
    assert areas[0] < 0.3 * areas[1] and areas[1] < areas[2]


def test_light_and_warmth_change_the_whole_frame() -> None:
    base = render(SMALL).image.astype(float)
    dim = render(SceneSpec(width=640, height=480, light=0.6)).image.astype(float)
    warm = render(SceneSpec(width=640, height=480, warmth=1.0)).image.astype(float)
    assert dim.mean() < 0.7 * base.mean()

    def red_over_blue(img: np.ndarray) -> float:
        return float(img[..., 0].mean() / img[..., 2].mean())

    assert red_over_blue(warm) > 1.2 * red_over_blue(base)


@pytest.mark.parametrize("bad", [
    {"layout": "field"}, {"rows": 0}, {"stress": {0: ("rust", 0.5)}},
    {"stress": {0: ("chlorosis", 1.5)}}, {"stress": {12: ("chlorosis", 0.5)}},
])
def test_bad_specs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SceneSpec(**bad)  # type: ignore[arg-type]


# --- faults --------------------------------------------------------------------------------


def test_blur_lowers_high_frequency_energy(bench: Scene) -> None:
    sharp = hf_energy(bench.image)
    soft = blur(bench.image, 2.0)
    assert soft.shape == bench.image.shape and soft.dtype == np.uint8
    assert hf_energy(soft) < 0.2 * sharp
    assert hf_energy(blur(bench.image, 0.8)) < hf_energy(bench.image)


def test_haze_lowers_contrast_and_raises_the_dark_channel(bench: Scene) -> None:
    foggy = haze(bench.image, 0.6)
    assert foggy.shape == bench.image.shape and foggy.dtype == np.uint8
    assert rms_contrast(foggy) < 0.6 * rms_contrast(bench.image)
    assert dark_channel(foggy) > dark_channel(bench.image) + 60
    assert rms_contrast(haze(bench.image, 0.9)) < rms_contrast(foggy)


@pytest.mark.parametrize("dx, dy", [(6.0, -4.0), (-12.0, 9.0), (3.5, 2.25)])
def test_shift_moves_content_by_the_requested_amount(dx: float, dy: float) -> None:
    img = render(SMALL).image
    moved = shift(img, dx, dy)
    found, _, _ = phase_cross_correlation(rgb2gray(img), rgb2gray(moved), upsample_factor=10)
    assert np.allclose(-found, (dy, dx), atol=0.3)


def test_integer_shift_is_an_exact_copy_with_reflected_edges() -> None:
    img = render(SMALL).image
    moved = shift(img, 5, 3)
    assert np.array_equal(moved[3:, 5:], img[:-3, :-5])
    assert np.array_equal(moved[2::-1, 5:], img[:3, :-5])  # top edge mirrors the first rows


def test_darken_and_overexpose(bench: Scene) -> None:
    night = darken(bench.image, 0.05, seed=1)
    assert night.mean() < 12
    assert np.array_equal(night, darken(bench.image, 0.05, seed=1))
    assert not np.array_equal(night, darken(bench.image, 0.05, seed=2))
    blown = overexpose(bench.image, 3.0)
    assert (blown.min(axis=2) == 255).mean() > 0.2


def test_faults_refuse_non_rgb_input() -> None:
    with pytest.raises(ValueError):
        blur(np.zeros((10, 10), np.uint8), 1.0)


# --- series --------------------------------------------------------------------------------


def test_series_frozen_frames_repeat_bytes_and_a_move_persists() -> None:
    frames = list(series(SMALL, frames=7, start=START, interval=timedelta(hours=1),
                         fault_plan={2: ("frozen", 0.0), 4: ("moved", 8.0)}))
    assert [f.index for f in frames] == list(range(7))
    assert [f.timestamp for f in frames] == [START + timedelta(hours=i) for i in range(7)]
    assert frames[2].image.tobytes() == frames[1].image.tobytes()
    assert frames[2].faults == ("frozen",)
    for a, b in itertools.pairwise(frames):
        if "frozen" not in b.faults:
            assert a.image.tobytes() != b.image.tobytes()
    assert [f.shift_xy for f in frames] == [(0.0, 0.0)] * 4 + [(8.0, 8.0)] * 3
    assert all("moved" in f.faults for f in frames[4:])
    for f in frames[4:]:
        found, _, _ = phase_cross_correlation(rgb2gray(f.scene.image), rgb2gray(f.image))
        assert np.allclose(-found, (8, 8), atol=0.5)


def test_series_stress_ramps_and_faults_apply() -> None:
    frames = list(series(SMALL, frames=6, start=START, interval=timedelta(hours=2),
                         stress_plan={3: ("necrosis", 2)},
                         fault_plan={1: ("blur", 3.0), 3: ("fog", 0.7), 5: ("dark", 0.05)}))
    severities = [f.scene.plants[3].severity for f in frames]
    assert severities[:2] == [0.0, 0.0]
    assert severities[2] > 0 and severities == sorted(severities) and severities[-1] <= 0.9
    assert [f.faults for f in frames] == [(), ("blur",), (), ("fog",), (), ("dark",)]
    assert hf_energy(frames[1].image) < 0.3 * hf_energy(frames[1].scene.image)
    assert frames[5].image.mean() < 15
    assert np.array_equal(frames[0].image, frames[0].scene.image)


def test_daylight_is_brighter_at_noon_than_at_dawn() -> None:
    frames = list(series(SMALL, frames=2, start=START, interval=timedelta(hours=6),
                         growth_per_frame=0.0))
    assert frames[1].image.mean() > 1.2 * frames[0].image.mean()
    assert frames[0].image.mean() > 40  # dawn is dim, not night


def test_series_refuses_bad_plans() -> None:
    with pytest.raises(ValueError):
        list(series(SMALL, frames=2, start=START, interval=timedelta(hours=1),
                    fault_plan={0: ("frozen", 0.0)}))
    with pytest.raises(ValueError):
        list(series(SMALL, frames=2, start=START, interval=timedelta(hours=1),
                    fault_plan={1: ("smudge", 1.0)}))
    with pytest.raises(ValueError):
        list(series(SMALL, frames=2, start=datetime(2024, 1, 1), interval=timedelta(hours=1)))


# --- crops ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crops() -> tuple[list[np.ndarray], np.ndarray]:
    """A small balanced set of model-class crops."""
    return labelled_crops(120, seed=5)


def test_crops_are_balanced_typed_and_sized(crops: tuple[list[np.ndarray], np.ndarray]) -> None:
    images, labels = crops
    assert labels.dtype == np.int64 and len(images) == 120
    assert np.bincount(labels, minlength=len(MODEL_CLASSES)).tolist() == [30, 30, 30, 30]
    for img in images:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert min(img.shape[:2]) >= 80 and max(img.shape[:2]) <= 260


def test_crops_are_deterministic() -> None:
    a_images, a_labels = labelled_crops(12, seed=9)
    b_images, b_labels = labelled_crops(12, seed=9)
    assert np.array_equal(a_labels, b_labels)
    assert all(np.array_equal(a, b) for a, b in zip(a_images, b_images, strict=True))
    c_images, _ = labelled_crops(12, seed=10)
    assert not all(a.shape == c.shape and np.array_equal(a, c)
                   for a, c in zip(a_images, c_images, strict=True))


def test_crop_classes_separate_by_simple_colour_statistics(
        crops: tuple[list[np.ndarray], np.ndarray]) -> None:
    images, labels = crops

    def greenish_share(img: np.ndarray) -> tuple[float, float]:
        """Share of clearly green pixels and of yellow-to-brown vegetation-like pixels."""
        rgb = img.astype(float)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        green = (g > r * 1.1) & (g > b * 1.2)
        yellow = (r >= g * 0.9) & (g > b * 1.5) & (r > 60)
        return float(green.mean()), float(yellow.mean())

    stats = np.array([greenish_share(img) for img in images])
    healthy, chlorosis = stats[labels == 0], stats[labels == 1]
    assert healthy[:, 0].mean() > chlorosis[:, 0].mean() + 0.05
    assert chlorosis[:, 1].mean() > healthy[:, 1].mean() + 0.05


def test_crops_accept_other_classes_and_refuse_unknown_ones() -> None:
    images, labels = labelled_crops(4, classes=("healthy", "stunted"))
    assert sorted(labels.tolist()) == [0, 0, 1, 1] and len(images) == 4
    with pytest.raises(ValueError):
        labelled_crops(4, classes=("healthy", "mildew"))
    assert set(MODEL_CLASSES) < set(CONDITIONS)


# --- files ---------------------------------------------------------------------------------


def test_save_jpeg_writes_exif_capture_time(tmp_path: Path) -> None:
    img = render(SMALL).image
    path = tmp_path / "frame.jpg"
    save_jpeg(img, path, quality=85, timestamp=datetime(2024, 6, 1, 14, 30, 5, tzinfo=UTC))
    with Image.open(path) as jpg:
        assert jpg.format == "JPEG" and jpg.size == (640, 480)
        assert jpg.getexif().get_ifd(0x8769)[36867] == "2024:06:01 14:30:05"
        decoded = np.asarray(jpg.convert("RGB"))
    assert np.abs(decoded.astype(int) - img.astype(int)).mean() < 6


def test_save_jpeg_without_timestamp_has_no_capture_time(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    save_jpeg(render(SMALL).image, path)
    with Image.open(path) as jpg:
        assert 36867 not in jpg.getexif().get_ifd(0x8769)
    with pytest.raises(ValueError):
        save_jpeg(render(SMALL).image, path, timestamp=datetime(2024, 1, 1))
