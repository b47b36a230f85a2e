"""Quality checks on synthetic greenhouse scenes, where every fault is known exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pytest
from scipy import ndimage as ndi

from fieldagent.quality import QualityChecker, QualityConfig, metrics

synth = pytest.importorskip("fieldagent.synth")

SIZE = {"width": 1024, "height": 768}
SCENES = [(0, "pots"), (1, "rows"), (2, "pots")]


@cache
def scene(seed: int, layout: str = "pots", frame_seed: int = 0) -> Any:
    """A rendered scene (image uint8 RGB, plant_mask); frame_seed varies only the noise."""
    return synth.render(synth.SceneSpec(seed=seed, layout=layout, frame_seed=frame_seed, **SIZE))


def f32(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def warmed(seed: int, frames: int = 6) -> QualityChecker:
    """Baseline and reference learnt on the same scene with fresh sensor noise."""
    checker = QualityChecker(QualityConfig())
    for frame_seed in range(frames):
        sc = scene(seed, frame_seed=frame_seed)
        assert checker.check(f32(sc.image), background=~sc.plant_mask).flags == ()
    return checker


@pytest.mark.parametrize(("seed", "layout"), SCENES)
def test_blur_score_rises_and_detail_falls_with_defocus(seed: int, layout: str) -> None:
    image = scene(seed, layout).image
    sigmas = [0.0, 1.0, 2.0, 4.0]
    scores = [metrics.blur_score(f32(synth.blur(image, s))) for s in sigmas]
    detail = [metrics.laplacian_variance(f32(synth.blur(image, s))) for s in sigmas]
    assert scores == sorted(scores) and len(set(scores)) == len(scores), scores
    assert detail == sorted(detail, reverse=True), detail
    assert QualityChecker(QualityConfig()).check(f32(image)).flags == ()
    strong = QualityChecker(QualityConfig()).check(f32(synth.blur(image, 4.0)))
    assert strong.flag_names == ("blur",)


@pytest.mark.parametrize("seed", [0, 1])
def test_fog_flag_appears_as_haze_grows(seed: int) -> None:
    checker = warmed(seed)
    image = scene(seed, frame_seed=20).image
    background = ~scene(seed).plant_mask
    found = []
    for strength in [0.05, 0.2, 0.4, 0.6]:
        report = QualityChecker.from_state(checker.config, checker.state()).check(
            f32(synth.haze(image, strength)), background=background
        )
        found.append(report)
    fog = ["fog" in r.flag_names for r in found]
    assert fog == sorted(fog) and not fog[0] and fog[2] and fog[3], fog
    contrast = [r.metrics["rms_contrast"] for r in found]
    dark = [r.metrics["dark_channel"] for r in found]
    assert contrast == sorted(contrast, reverse=True)
    assert dark == sorted(dark)


def test_exposure_faults_are_flagged() -> None:
    sc = scene(0)
    fresh = QualityChecker(QualityConfig())
    night = fresh.check(f32(synth.darken(sc.image, 0.05)))
    assert "dark" in night.flag_names and not night.ok
    bright = QualityChecker(QualityConfig()).check(
        f32(synth.overexpose(sc.image, 3.0)), background=~sc.plant_mask
    )
    assert bright.flag_names == ("overexposed",)
    assert "overexposed" in warmed(0).check(f32(synth.overexpose(sc.image, 3.0))).flag_names


@pytest.mark.parametrize("use_mask", [False, True])
def test_known_camera_shift_is_measured(use_mask: bool) -> None:
    sc = scene(1, "rows")
    later = scene(1, "rows", frame_seed=9)
    moved_image = synth.shift(later.image, 7.0, -3.5)
    gray, moved_gray = metrics.luminance(f32(sc.image)), metrics.luminance(f32(moved_image))
    mask = ref_mask = None
    if use_mask:
        ref_mask = ~sc.plant_mask
        mask = ndi.shift((~sc.plant_mask).astype(np.float32), (-3.5, 7.0), order=0) > 0.5
    dy, dx, _ = metrics.displacement(gray, moved_gray, mask=mask, reference_mask=ref_mask)
    assert dy == pytest.approx(-3.5, abs=0.5) and dx == pytest.approx(7.0, abs=0.5)


@pytest.mark.slow
def test_series_flags_each_fault_and_nothing_else() -> None:
    """A day and a half of hourly frames: light cycle, growth, one fault of each kind."""
    faults = {
        12: ("blur", 3.0),
        15: ("fog", 0.5),
        18: ("dark", 0.05),
        21: ("overexposed", 3.0),
        24: ("frozen", 0.0),
        27: ("moved", 12.0),
    }
    spec = synth.SceneSpec(seed=3, **SIZE)
    frames = synth.series(
        spec,
        frames=32,
        start=datetime(2026, 5, 1, tzinfo=UTC),
        interval=timedelta(hours=1),
        fault_plan=faults,
        growth_per_frame=0.01,
    )
    checker = QualityChecker(QualityConfig())
    for frame in frames:
        report = checker.check(f32(frame.image), background=~frame.scene.plant_mask)
        expected = faults.get(frame.index, ("", 0.0))[0]
        if frame.index >= 27:
            assert report.flag_names == ("moved",), (frame.index, report.to_dict())
            assert report.shift_xy == pytest.approx((12.0, 12.0), abs=1.0)
        elif expected:
            assert expected in report.flag_names, (frame.index, report.to_dict())
            assert not report.ok
        else:
            assert report.flags == (), (frame.index, report.to_dict())


def test_heavy_fog_is_not_mistaken_for_a_moved_camera() -> None:
    """Registration on a fogged frame is noise: it must neither flag 'moved' nor shift zones."""
    from fieldagent.roi.segment import segment_plants

    checker = QualityChecker(QualityConfig())
    plan = {7: ("fog", 0.7), 8: ("fog", 0.75), 9: ("fog", 0.7)}
    frames = synth.series(
        synth.SceneSpec(width=1024, height=768, seed=7),
        frames=11,
        start=datetime(2026, 6, 1, 6, tzinfo=UTC),
        interval=timedelta(minutes=30),
        fault_plan=plan,
    )
    for frame in frames:
        rgb = frame.image.astype(np.float32) / 255
        report = checker.check(rgb, background=~segment_plants(rgb))
        if frame.faults:
            assert "fog" in report.flag_names and "moved" not in report.flag_names
            assert max(abs(v) for v in report.shift_xy) < 3.0
        else:
            assert report.flag_names == ()
