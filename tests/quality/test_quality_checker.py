"""QualityChecker on real photos: no false alarms, and each fault raises its flag."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from fieldagent.errors import ImageRejected
from fieldagent.quality import QualityChecker, QualityConfig, QualityReport
from tests.support.photos import REAL, photo

RGB_PHOTOS = [
    "arabidopsis_tray.jpg",
    "leaves_16mp.jpg",
    "plantcv_multi_tray.jpg",
    "plantcv_vis_side.jpg",
    "plantcv_fusion_rgb.png",
]
NIR_PHOTOS = ["plantcv_fusion_nir.png", "plantcv_nir_side.jpg"]
TRAY = "arabidopsis_tray.jpg"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real photos not available")



def noisy(rgb: np.ndarray, seed: int) -> np.ndarray:
    """The same scene captured again: fresh sensor noise (about 1 level of 255)."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0 / 255, rgb.shape)
    return np.clip(rgb + noise, 0.0, 1.0).astype(np.float32)


def plant_mask(rgb: np.ndarray) -> np.ndarray:
    exg = 2 * rgb[..., 1] - rgb[..., 0] - rgb[..., 2]
    return np.asarray(ndi.binary_opening(exg > 0.1), dtype=bool)


def warmed(name: str, frames: int = 6, **config: object) -> QualityChecker:
    """A checker whose baseline and reference were learnt on clear frames of ``name``."""
    checker = QualityChecker(QualityConfig(**config))
    for seed in range(frames):
        assert checker.check(noisy(photo(name), seed)).flags == ()
    return checker


def moved(rgb: np.ndarray, dx: float, dy: float, seed: int = 99) -> np.ndarray:
    return noisy(ndi.shift(rgb, (dy, dx, 0), order=1, mode="nearest"), seed)


def hazy(rgb: np.ndarray, strength: float) -> np.ndarray:
    return (1.0 - strength) * rgb + strength * np.float32(0.9)


@pytest.mark.parametrize("name", RGB_PHOTOS + NIR_PHOTOS)
def test_real_photos_raise_no_flag(name: str) -> None:
    rgb = photo(name)
    checker = QualityChecker(QualityConfig())
    first = checker.check(rgb)
    assert first.ok and first.flags == (), first.to_dict()
    for seed in range(1, 8):  # same scene, fresh noise: baseline warms, relative checks start
        report = checker.check(noisy(rgb, seed))
        assert report.flags == (), report.to_dict()
    assert report.metrics["shift_px"] < 0.5


@pytest.mark.parametrize("name", RGB_PHOTOS)
def test_real_photos_raise_no_flag_with_background_mask(name: str) -> None:
    rgb = photo(name)
    background = ~plant_mask(rgb)
    checker = QualityChecker(QualityConfig())
    for seed in range(7):
        report = checker.check(noisy(rgb, seed), background=background)
        assert report.flags == (), report.to_dict()


@pytest.mark.parametrize("name", RGB_PHOTOS + NIR_PHOTOS)
def test_strong_blur_is_flagged_on_a_fresh_camera(name: str) -> None:
    blurred = ndi.gaussian_filter(photo(name), (4, 4, 0))
    report = QualityChecker(QualityConfig()).check(blurred)
    assert report.flag_names == ("blur",)
    assert not report.ok
    assert "blur" in report.flags[0].message and "lens" in report.flags[0].message


def test_moderate_blur_is_flagged_against_the_camera_baseline() -> None:
    rgb = photo(TRAY)
    blurred = noisy(ndi.gaussian_filter(rgb, (2, 2, 0)), 50)
    assert "blur" not in QualityChecker(QualityConfig()).check(blurred).flag_names
    checker = warmed(TRAY)
    report = copy.deepcopy(checker).check(blurred)
    assert report.flag_names == ("blur",)
    assert report.flags[0].threshold < QualityConfig().blur_max_effect
    slight = noisy(ndi.gaussian_filter(rgb, (0.7, 0.7, 0)), 51)
    assert checker.check(slight).flags == ()


@pytest.mark.parametrize("name", RGB_PHOTOS)
def test_fog_flag_appears_as_haze_grows(name: str) -> None:
    checker = warmed(name)
    strengths = [0.1, 0.2, 0.4, 0.6]
    reports = [copy.deepcopy(checker).check(noisy(hazy(photo(name), s), 7)) for s in strengths]
    fog = ["fog" in r.flag_names for r in reports]
    assert fog == sorted(fog), fog  # once fog is flagged, thicker fog stays flagged
    assert not fog[0] and fog[2] and fog[3], fog
    contrast = [r.metrics["relative_contrast"] for r in reports]
    dark = [r.metrics["dark_channel"] for r in reports]
    assert contrast == sorted(contrast, reverse=True)
    assert dark == sorted(dark)
    assert all(f.name == "fog" for r in reports for f in r.flags)


def test_thick_fog_is_flagged_on_a_fresh_camera() -> None:
    report = QualityChecker(QualityConfig()).check(hazy(photo(TRAY), 0.8))
    assert report.flag_names == ("fog",)


@pytest.mark.parametrize("gain", [0.6, 1.3])
def test_light_level_changes_are_not_fog_or_blur(gain: float) -> None:
    """The greenhouse light dims and brightens all day; that is not a defect."""
    checker = warmed(TRAY)
    report = checker.check(noisy(np.clip(photo(TRAY) * np.float32(gain), 0, 1), 8))
    assert report.flags == (), report.to_dict()


@pytest.mark.parametrize("name", RGB_PHOTOS + NIR_PHOTOS)
def test_night_frame_is_flagged_dark_and_nothing_else(name: str) -> None:
    checker = warmed(name, frames=5)
    report = checker.check(noisy(photo(name) * np.float32(0.05), 3))
    assert report.flag_names == ("dark",)  # crushed blacks and blur are its consequences
    assert not report.ok and report.shift_xy == (0.0, 0.0)


def test_crushed_shadows_are_flagged_underexposed() -> None:
    crushed = np.clip(photo(TRAY) - 0.3, 0, 1)  # black level set far too high
    report = QualityChecker(QualityConfig()).check(crushed)
    assert report.flag_names == ("underexposed",)
    assert report.flags[0].value > QualityConfig().underexposed_max_fraction
    assert "black" in report.flags[0].message


def test_overexposed_frames_are_flagged() -> None:
    tray = np.clip(photo(TRAY) * 3, 0, 1)
    assert "overexposed" in QualityChecker(QualityConfig()).check(tray).flag_names
    leaves = photo("leaves_16mp.jpg")  # black cloth: only 29% of the frame clips
    bright = noisy(np.clip(leaves * 3, 0, 1), 5)
    fresh = QualityChecker(QualityConfig()).check(bright, background=~plant_mask(leaves))
    assert fresh.flag_names == ("overexposed",) and fresh.flags[0].metric == "saturated_plant"
    report = warmed("leaves_16mp.jpg").check(bright)
    assert "overexposed" in report.flag_names and report.flags[0].metric == "clipped_high"


def test_shift_is_reported_and_small_shift_does_not_block() -> None:
    checker = warmed(TRAY)
    report = copy.deepcopy(checker).check(moved(photo(TRAY), dx=12.0, dy=-5.0))
    assert report.flag_names == ("moved",)
    assert report.ok and not report.flags[0].blocking
    assert report.shift_xy == pytest.approx((12.0, -5.0), abs=1.0)
    assert report.to_dict()["shift_px"] == pytest.approx([12.0, -5.0], abs=1.0)
    jitter = copy.deepcopy(checker).check(moved(photo(TRAY), dx=0.5, dy=0.0))
    assert jitter.flags == ()
    assert jitter.shift_xy == pytest.approx((0.5, 0.0), abs=0.3)


def test_shift_on_background_mask() -> None:
    rgb = photo(TRAY)
    background = ~plant_mask(rgb)
    checker = QualityChecker(QualityConfig())
    for seed in range(5):
        checker.check(noisy(rgb, seed), background=background)
    shifted_bg = ndi.shift(background.astype(np.float32), (4.0, -7.5), order=0) > 0.5
    report = checker.check(moved(rgb, dx=-7.5, dy=4.0), background=shifted_bg)
    assert report.flag_names == ("moved",)
    assert report.shift_xy == pytest.approx((-7.5, 4.0), abs=1.0)


def test_large_shift_or_a_new_view_blocks() -> None:
    checker = warmed(TRAY)
    far = copy.deepcopy(checker).check(moved(photo(TRAY), dx=80.0, dy=0.0))
    assert far.flag_names == ("moved",) and far.flags[0].blocking and not far.ok
    assert far.metrics["shift_fraction"] == pytest.approx(80 / 1024, abs=0.01)
    elsewhere = copy.deepcopy(checker).check(photo("leaves_16mp.jpg"))
    assert "moved" in elsewhere.flag_names and not elsewhere.ok
    assert elsewhere.flags[-1].metric == "registration_error"


def test_frozen_frame_is_flagged_but_fresh_noise_is_not() -> None:
    checker = QualityChecker(QualityConfig())
    frame = noisy(photo(TRAY), 1)
    assert checker.check(frame).flags == ()
    assert checker.check(noisy(photo(TRAY), 2)).flags == ()
    assert checker.check(noisy(photo(TRAY), 2)).flag_names == ("frozen",)
    again = checker.check(noisy(photo(TRAY), 2))
    assert again.flag_names == ("frozen",) and not again.ok
    assert checker.check(noisy(photo(TRAY), 3)).flags == ()


def test_plant_growth_over_many_frames_does_not_look_like_motion() -> None:
    rgb = photo(TRAY)
    plants = plant_mask(rgb)
    colour = np.median(rgb[plants], axis=0)
    refreshed = QualityChecker(QualityConfig(reference_refresh_frames=5))
    stale = QualityChecker(QualityConfig(reference_refresh_frames=1000))
    for i in range(40):  # rosettes spread by one pixel every other frame
        grown = ndi.binary_dilation(plants, iterations=i // 2) if i >= 2 else plants
        frame = rgb.copy()
        frame[grown & ~plants] = colour
        report = refreshed.check(noisy(frame, i))
        assert report.flags == (), (i, report.to_dict())
        old_view = stale.check(noisy(frame, i))
    assert report.metrics["registration_error"] < 0.3
    assert report.metrics["shift_px"] < 0.5
    assert refreshed.state()["reference"]["age"] < 5
    # Against the first frame the same growth is drifting towards "the view changed".
    assert old_view.metrics["registration_error"] > 0.6


def test_reference_is_not_refreshed_while_moved() -> None:
    checker = warmed(TRAY, reference_refresh_frames=3)
    for seed in range(8):
        report = checker.check(moved(photo(TRAY), dx=10.0, dy=0.0, seed=seed))
        assert report.flag_names == ("moved",)
        assert report.shift_xy[0] == pytest.approx(10.0, abs=1.0)


def test_slow_drift_accumulates_across_reference_refreshes() -> None:
    checker = warmed(TRAY, reference_refresh_frames=2)
    drift = [checker.check(moved(photo(TRAY), dx=0.8 * i, dy=0.0, seed=i)) for i in range(1, 9)]
    assert drift[0].flags == ()
    assert drift[-1].flag_names == ("moved",)
    assert drift[-1].shift_xy[0] == pytest.approx(6.4, abs=1.0)


def test_baseline_learns_only_from_good_frames() -> None:
    checker = warmed(TRAY, frames=5)
    before = checker.state()["baseline"]
    blurred = ndi.gaussian_filter(photo(TRAY), (4, 4, 0))
    for seed in range(3):
        assert not checker.check(noisy(blurred, seed)).ok
    assert checker.state()["baseline"] == before


def test_state_round_trips_through_json() -> None:
    checker = warmed(TRAY)
    last = noisy(photo(TRAY), 40)
    checker.check(last)
    state = json.loads(json.dumps(checker.state()))
    restored = QualityChecker.from_state(QualityConfig(), state)
    assert restored.state()["baseline"] == checker.state()["baseline"]
    assert restored.check(last).flag_names == ("frozen",)
    report = restored.check(moved(photo(TRAY), dx=-6.0, dy=3.0))
    assert report.flag_names == ("moved",)
    assert report.shift_xy == pytest.approx((-6.0, 3.0), abs=1.0)


def test_unreadable_state_is_refused() -> None:
    state = warmed(TRAY, frames=1).state()
    with pytest.raises(ValueError, match="version"):
        QualityChecker.from_state(QualityConfig(), {**state, "version": 99})
    broken = {**state, "reference": {**state["reference"], "gray": "not base64!"}}
    with pytest.raises(ValueError, match="unreadable"):
        QualityChecker.from_state(QualityConfig(), broken)


def test_disabled_checks_raise_no_flag() -> None:
    checker = QualityChecker(QualityConfig(enabled_checks=("dark",)))
    assert checker.check(ndi.gaussian_filter(photo(TRAY), (4, 4, 0))).flags == ()
    assert checker.check(photo(TRAY) * np.float32(0.02)).flag_names == ("dark",)


def test_bad_input_is_refused() -> None:
    checker = QualityChecker(QualityConfig())
    with pytest.raises(ImageRejected, match="float"):
        checker.check((photo(TRAY) * 255).astype(np.uint8))
    with pytest.raises(ImageRejected, match=r"\(H, W, 3\)"):
        checker.check(photo(TRAY)[..., 0])
    with pytest.raises(ValueError, match="background mask"):
        checker.check(photo(TRAY), background=np.ones((10, 10), dtype=bool))


def test_report_is_json_ready() -> None:
    report = QualityChecker(QualityConfig()).check(photo(TRAY) * np.float32(0.05))
    assert isinstance(report, QualityReport)
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {"ok", "flags", "metrics", "shift_px"}
    assert data["ok"] is False and len(data["shift_px"]) == 2
    flag = data["flags"][0]
    assert set(flag) == {"name", "metric", "value", "threshold", "blocking", "message"}
    assert flag["name"] == "dark" and flag["value"] < flag["threshold"]
    assert flag["message"].endswith(("exposure", "camera's exposure"))
    with pytest.raises(TypeError):
        report.metrics["mean_luminance"] = 1.0  # type: ignore[index]
