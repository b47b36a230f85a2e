"""Exposure against the camera's own usual brightness at this hour of the day."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fieldagent.quality.checker import QualityChecker
from fieldagent.quality.config import QualityConfig
from fieldagent.quality.metrics import mean_luminance
from tests.support.photos import photo

RNG_SEED = 11


def at_brightness(level: float, seed: int) -> np.ndarray:
    """The real tray photo scaled to mean luminance ``level``, with fresh sensor noise."""
    tray = photo("arabidopsis_tray.jpg")
    rng = np.random.default_rng([RNG_SEED, seed])
    img = tray * np.float32(level / mean_luminance(tray))
    img = img + rng.normal(0, 0.004, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def learned(checker: QualityChecker, hour: float, level: float, n: int = 4) -> None:
    for i in range(n):
        report = checker.check(at_brightness(level, seed=int(hour * 100) + i), hour=hour)
        assert report.ok, report.flags


def test_the_issue_example_a_frame_at_30_percent_of_usual_is_underexposed() -> None:
    checker = QualityChecker(QualityConfig())
    learned(checker, 12.0, 0.35)
    report = checker.check(at_brightness(0.10, seed=99), hour=12.0)
    flag = next(f for f in report.flags if f.name == "underexposed")
    assert flag.metric == "mean_luminance" and flag.blocking
    assert flag.value == pytest.approx(0.10, abs=0.01) and flag.value < flag.threshold
    assert "usually" in flag.message and not report.ok


def test_dim_at_dawn_is_normal_but_the_same_frame_at_noon_is_not() -> None:
    checker = QualityChecker(QualityConfig())
    learned(checker, 6.0, 0.13)
    learned(checker, 12.0, 0.35)
    assert "underexposed" not in checker.check(at_brightness(0.13, 1), hour=6.0).flag_names
    assert "underexposed" in checker.check(at_brightness(0.13, 2), hour=12.0).flag_names


def test_the_verdict_follows_the_ratio_to_the_usual_brightness() -> None:
    """Monotone: darker frames are flagged from some ratio on, never the reverse."""
    checker = QualityChecker(QualityConfig())
    learned(checker, 12.0, 0.4)
    flagged = [("underexposed" in checker.check(at_brightness(0.4 * r, int(r * 100)),
                                                 hour=12.0).flag_names)
               for r in (1.0, 0.8, 0.6, 0.45, 0.3)]
    assert flagged == sorted(flagged) and flagged[0] is False and flagged[-1] is True


def test_a_much_brighter_frame_is_overexposed() -> None:
    checker = QualityChecker(QualityConfig())
    learned(checker, 10.0, 0.2)
    report = checker.check(at_brightness(0.6, 7), hour=10.0)
    assert "overexposed" in report.flag_names


def test_a_fresh_camera_or_an_unknown_hour_is_not_judged_relatively() -> None:
    checker = QualityChecker(QualityConfig())
    assert checker.check(at_brightness(0.12, 1), hour=12.0).ok
    learned(checker, 12.0, 0.35)
    assert checker.check(at_brightness(0.12, 2), hour=18.0).ok  # nothing known about 18 h


def test_night_frames_of_a_camera_declared_dark_at_night_are_not_flagged() -> None:
    """Lamps lit some nights (0.3); a lamps-off night (0.10) is only expected when the site
    declares its cameras dark at night."""
    plain = QualityChecker(QualityConfig())
    dark_at_night = QualityChecker(QualityConfig(night={"dark": True, "hours": (21.0, 5.0)}))
    for checker in (plain, dark_at_night):
        learned(checker, 23.0, 0.3)
    assert "underexposed" in plain.check(at_brightness(0.10, 5), hour=23.0).flag_names
    night = dark_at_night.check(at_brightness(0.10, 5), hour=23.0)
    assert night.ok and night.flags == ()
    # a pitch-black night frame still cannot be measured, but is called expected
    black = dark_at_night.check(at_brightness(0.02, 8), hour=2.0)
    assert black.flag_names == ("dark",) and not black.ok
    assert "quality.night" in black.flags[0].message
    assert "quality.night" not in plain.check(at_brightness(0.02, 8), hour=2.0).flags[0].message
    # ... by day the same camera is still judged
    learned(dark_at_night, 12.0, 0.35)
    assert "underexposed" in dark_at_night.check(at_brightness(0.10, 6), hour=12.0).flag_names


def test_the_usual_brightness_survives_a_restart() -> None:
    checker = QualityChecker(QualityConfig())
    learned(checker, 12.0, 0.35)
    state = json.loads(json.dumps(checker.state()))
    restored = QualityChecker.from_state(QualityConfig(), state)
    assert "underexposed" in restored.check(at_brightness(0.10, 3), hour=12.0).flag_names
