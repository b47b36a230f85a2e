"""Per-image signals as properties: they move the right way as leaves change colour."""

from __future__ import annotations

import colorsys
import itertools
import math

import numpy as np
import pytest
from PIL import Image

from fieldagent.roi.segment import segment_plants
from fieldagent.signals import indices as ix
from fieldagent.signals.compute import compute_signals
from fieldagent.signals.config import HueBins
from tests.support.photos import REAL

GREEN = np.array([0.25, 0.55, 0.18], np.float32)
YELLOW = np.array([0.85, 0.78, 0.20], np.float32)
BROWN = np.array([0.47, 0.31, 0.14], np.float32)
COLOUR_KEYS = ("gcc", "gcc_p90", "rcc", "exg", "gli", "ngrdi", "vari", "tgi", "hue_mean_deg",
               "hue_std_deg", "green_fraction", "yellow_fraction", "brown_fraction", "ndvi")


def patch(colour: np.ndarray, shape: tuple[int, int] = (40, 50), noise: float = 0.01,
          seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.broadcast_to(colour, (*shape, 3)) + rng.normal(0, noise, (*shape, 3))
    return np.clip(img, 0, 1).astype(np.float32)


def signals_of(rgb: np.ndarray, **kw: object) -> dict[str, float]:
    return compute_signals(rgb, np.ones(rgb.shape[:2], bool), **kw)  # type: ignore[arg-type]


def test_greenness_falls_and_yellow_share_rises_as_a_leaf_yellows() -> None:
    steps = [signals_of(patch((1 - t) * GREEN + t * YELLOW)) for t in np.linspace(0, 1, 9)]
    for key in ("gcc", "gcc_p90", "gli", "ngrdi", "exg", "tgi", "hue_mean_deg"):
        series = [s[key] for s in steps]
        assert all(b < a for a, b in itertools.pairwise(series)), key
    assert [s["rcc"] for s in steps] == sorted(s["rcc"] for s in steps)
    yellow = [s["yellow_fraction"] for s in steps]
    assert yellow[0] == 0.0 and yellow[-1] > 0.95
    assert all(b >= a for a, b in itertools.pairwise(yellow))
    assert steps[0]["green_fraction"] > 0.95 and steps[-1]["green_fraction"] < 0.05


def test_brown_share_follows_the_necrotic_area() -> None:
    rng = np.random.default_rng(1)
    leaf = patch(GREEN, (60, 60))
    shares = []
    for share in (0.0, 0.1, 0.3, 0.6):
        img = leaf.copy()
        img[rng.random(leaf.shape[:2]) < share] = BROWN
        shares.append((share, signals_of(img)["brown_fraction"]))
    for want, got in shares:
        assert got == pytest.approx(want, abs=0.03)
    values = [signals_of(patch((1 - t) * GREEN + t * BROWN))["brown_fraction"] for t in (0, 1)]
    assert values == [0.0, 1.0]


def test_colour_shares_sum_to_one_with_other() -> None:
    img = np.concatenate([patch(GREEN), patch(YELLOW), patch(BROWN), patch(np.full(3, 0.6)),
                          patch(np.array([0.2, 0.3, 0.8]))], axis=0)
    s = signals_of(img)
    parts = [s[k] for k in ("green_fraction", "yellow_fraction", "brown_fraction")]
    assert all(p == pytest.approx(0.2, abs=0.02) for p in parts)
    assert sum(parts) + s["other_fraction"] == pytest.approx(1.0)


def test_circular_hue_mean_is_right_across_the_zero_wrap() -> None:
    hues = [350.0, 355.0, 5.0, 20.0]  # deviations -10, -5, 5, 20 around 0: mean 2.5
    px = np.array([colorsys.hsv_to_rgb(h / 360, 0.8, 0.7) for h in hues], np.float32)
    mean, std = ix.hue_stats(px)
    assert mean == pytest.approx(2.5, abs=0.3)  # the arithmetic mean would say 182.5
    assert 5.0 < std < 12.0
    spread = np.array([colorsys.hsv_to_rgb(h / 360, 0.8, 0.7) for h in (100, 130)], np.float32)
    assert ix.hue_stats(spread)[0] == pytest.approx(115.0, abs=0.2)
    grey = np.full((5, 3), 0.5, np.float32)
    assert all(math.isnan(v) for v in ix.hue_stats(grey))


def test_empty_mask_gives_nan_not_a_crash() -> None:
    rgb = patch(GREEN)
    s = compute_signals(rgb, np.zeros(rgb.shape[:2], bool), nir_crop=rgb[..., 0])
    assert s["plant_area_px"] == 0.0 and s["canopy_cover"] == 0.0
    assert all(math.isnan(s[k]) for k in COLOUR_KEYS), s
    black = compute_signals(np.zeros((4, 4, 3), np.float32), np.ones((4, 4), bool))
    assert math.isnan(black["gcc"]) and black["plant_area_px"] == 16.0
    nothing = compute_signals(np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), bool))
    assert math.isnan(nothing["canopy_cover"]) and math.isnan(nothing["gcc"])


def test_area_is_reported_at_full_resolution_and_in_mm2() -> None:
    rgb = patch(GREEN, (10, 20))
    plant = np.zeros((10, 20), bool)
    plant[:5, :8] = True
    zone = np.ones_like(plant)
    zone[:, 16:] = False
    s = compute_signals(rgb, plant, zone_mask=zone, px_scale=4.0, mm_per_px=0.5)
    assert s["plant_area_px"] == 40 * 16
    assert s["plant_area_mm2"] == pytest.approx(40 * 16 * 0.25)
    assert s["canopy_cover"] == pytest.approx(40 / 160)
    assert math.isnan(compute_signals(rgb, plant)["plant_area_mm2"])


def test_vari_stays_bounded_when_its_denominator_vanishes() -> None:
    px = np.array([[0.5, 0.5, 1.0], [0.2, 0.6, 0.8], [0.3, 0.5, 0.1], [0.0, 0.0, 0.0]],
                  np.float32)
    assert -1.0 <= ix.vari(px) <= 1.0
    assert ix.vari(patch(GREEN)) > 0 > ix.vari(patch(BROWN * np.float32(1.2) + [0, 0, 0.2]))


def test_tgi_is_zero_on_grey_and_falls_as_green_turns_brown() -> None:
    assert ix.tgi(np.full((3, 3), 0.5, np.float32)) == pytest.approx(0.0, abs=1e-4)
    series = [ix.tgi(patch((1 - t) * GREEN + t * BROWN)) for t in np.linspace(0, 1, 5)]
    assert series == sorted(series, reverse=True) and series[0] > 25


def test_custom_hue_bins_move_the_yellow_green_boundary() -> None:
    lime = patch(np.array([0.55, 0.70, 0.20], np.float32))  # hue ~ 78
    assert signals_of(lime)["green_fraction"] > 0.9
    wide = HueBins(green_from_deg=90.0)
    assert signals_of(lime, bins=wide)["yellow_fraction"] > 0.9
    with pytest.raises(ValueError, match="must increase"):
        HueBins(yellow_from_deg=70.0, green_from_deg=65.0)


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        compute_signals(patch(GREEN), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="NIR"):
        signals_of(patch(GREEN), nir_crop=np.ones((3, 3), np.float32))


@pytest.mark.skipif(not REAL.is_dir(), reason="real photos not available")
def test_ndvi_on_the_registered_pair_is_plausible_and_higher_on_the_plant() -> None:
    rgb = np.asarray(Image.open(REAL / "plantcv_fusion_rgb.png").convert("RGB"), np.float32) / 255
    with Image.open(REAL / "plantcv_fusion_nir.png") as im:
        assert im.mode == "I;16"
        nir = np.asarray(im, dtype=np.float32) / 65535.0
    plant = segment_plants(rgb)
    on_plant = compute_signals(rgb, plant, nir_crop=nir)["ndvi"]
    background = compute_signals(rgb, ~plant, nir_crop=nir)["ndvi"]
    assert 0.0 < on_plant < 0.9
    assert on_plant > background + 0.2
    assert ix.ndvi(rgb, nir, plant) == pytest.approx(on_plant)
