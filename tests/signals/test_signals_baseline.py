"""Per-zone history: growth rate, stress score against the zone's own baseline, flags."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fieldagent.signals.baseline import DERIVED, ZoneHistory
from fieldagent.signals.config import SignalsConfig

T0 = datetime(2026, 5, 1, 6, tzinfo=UTC)
CFG = SignalsConfig()


def healthy(rng: np.random.Generator, area: float = 20_000.0) -> dict[str, float]:
    """One image of a stable healthy zone, with realistic frame-to-frame noise."""
    return {
        "gcc_p90": 0.50 + rng.normal(0, 0.004),
        "yellow_fraction": abs(rng.normal(0.01, 0.005)),
        "brown_fraction": abs(rng.normal(0.002, 0.002)),
        "hue_mean_deg": 100.0 + rng.normal(0, 1.5),
        "plant_area_px": area * math.exp(rng.normal(0, 0.02)),
    }


def yellowed(rng: np.random.Generator, t: float) -> dict[str, float]:
    """The same zone a share t of the way to a chlorotic plant."""
    s = healthy(rng)
    s["gcc_p90"] -= 0.08 * t
    s["yellow_fraction"] += 0.45 * t
    s["hue_mean_deg"] -= 30.0 * t
    return s


def hourly(n: int, start: int = 0) -> Iterator[datetime]:
    return (T0 + timedelta(hours=start + i) for i in range(n))


def learned(seed: int = 0, n: int = 30) -> tuple[ZoneHistory, np.random.Generator]:
    rng = np.random.default_rng(seed)
    history = ZoneHistory(CFG)
    for t in hourly(n):
        history.update(t, healthy(rng), trusted=True)
    return history, rng


def test_first_images_only_learn_then_scores_appear() -> None:
    rng = np.random.default_rng(0)
    history = ZoneHistory(CFG)
    for i, t in enumerate(hourly(CFG.min_baseline + 1)):
        update = history.update(t, healthy(rng), trusted=True)
        assert set(update.derived) == set(DERIVED)
        if i < CFG.min_baseline:
            assert update.flags == ("baseline_learning",)
            assert math.isnan(update.derived["stress_score"])
    assert update.flags == () and 0.0 <= update.derived["stress_score"] < 3.0
    assert not history.learning


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stress_score_stays_low_on_a_stable_noisy_zone(seed: int) -> None:
    history, rng = learned(seed, n=CFG.min_baseline)
    scores = [history.update(t, healthy(rng), trusted=True).derived["stress_score"]
              for t in hourly(300, start=CFG.min_baseline)]
    assert np.median(scores) < 1.5
    assert np.percentile(scores, 95) < 3.0
    # the default alert needs two images in a row above 4: noise never does that
    assert not any(a > 4 and b > 4 for a, b in itertools.pairwise(scores))


def test_stress_score_rises_above_3_when_the_zone_yellows() -> None:
    history, rng = learned()
    updates = [history.update(t, yellowed(rng, k / 10), trusted=True)
               for k, t in enumerate(hourly(11, start=30))]
    final = updates[-1].derived
    assert final["stress_score"] > 3.0
    assert final["z_yellow_fraction"] > 3 and final["z_gcc_p90"] > 3 and final["z_hue_shift"] > 3
    assert final["hue_shift_deg"] == pytest.approx(-30.0, abs=3.0)
    scores = [u.derived["stress_score"] for u in updates]
    assert scores[0] < 3.0 and scores[-1] > scores[5] > scores[0]


def test_a_slow_yellowing_is_not_learned_as_normal() -> None:
    """Half a percent more yellow leaf per image: the reference stops following it."""
    history, rng = learned()
    scores = [history.update(t, yellowed(rng, min(k / 150, 1.0)), trusted=True)
              .derived["stress_score"] for k, t in enumerate(hourly(200, start=30))]
    assert max(scores[:5]) < 3.0
    assert min(scores[120:]) > 3.0, "the yellowing was absorbed into the baseline"


def test_untrusted_images_get_scores_but_are_never_learned() -> None:
    history, rng = learned()
    before = history.state()
    for k, t in enumerate(hourly(80, start=30)):
        bad = history.update(t, yellowed(rng, 1.0), trusted=False)
        assert bad.derived["stress_score"] > 3.0, k
    assert history.state() == before
    ok = history.update(T0 + timedelta(hours=200), healthy(rng), trusted=True)
    assert ok.derived["stress_score"] < 3.0
    fresh = ZoneHistory(CFG)
    for t in hourly(CFG.min_baseline * 2):
        assert fresh.update(t, healthy(rng), trusted=False).flags == ("baseline_learning",)


@pytest.mark.parametrize("rate", [0.08, 0.25, 0.6])
def test_growth_rate_recovers_a_known_exponential_rate(rate: float) -> None:
    rng = np.random.default_rng(3)
    history = ZoneHistory(CFG)
    got = float("nan")
    for i, t in enumerate(hourly(120)):
        days = i / 24.0
        s = healthy(rng, area=5_000.0 * math.exp(rate * days))
        if i == 60:
            s["plant_area_px"] *= 0.4  # one bad mask (a hand over the plant): Theil-Sen ignores it
        got = history.update(t, s, trusted=True).derived["growth_rate"]
    assert got == pytest.approx(rate, abs=0.03)


def test_growth_rate_needs_enough_points_and_span() -> None:
    rng = np.random.default_rng(0)
    history = ZoneHistory(CFG)
    rates = [history.update(T0 + timedelta(minutes=10 * i), healthy(rng), trusted=True)
             .derived["growth_rate"] for i in range(20)]  # only ~3 h of data
    assert all(math.isnan(r) for r in rates)


def test_area_collapse_with_unchanged_colour_is_a_segmentation_suspect() -> None:
    history, rng = learned()
    s = healthy(rng)
    s["plant_area_px"] *= 0.3
    update = history.update(T0 + timedelta(hours=31), s, trusted=True)
    assert "segmentation_suspect" in update.flags
    assert update.derived["z_area"] > 10
    assert update.derived["stress_score"] < 3.0, "a mask failure must not raise a stress alert"
    gone = {k: float("nan") for k in ("gcc_p90", "yellow_fraction", "brown_fraction",
                                      "hue_mean_deg")} | {"plant_area_px": 0.0}
    assert "segmentation_suspect" in history.update(T0 + timedelta(hours=32), gone,
                                                    trusted=True).flags
    after = history.update(T0 + timedelta(hours=33), healthy(rng), trusted=True)
    assert after.flags == () and after.derived["stress_score"] < 3.0


def test_area_falling_as_leaves_turn_brown_is_real_stress_not_a_suspect() -> None:
    history, rng = learned()
    s = healthy(rng)
    s["plant_area_px"] *= 0.4   # shrivelled leaves
    s["brown_fraction"] = 0.45  # ... that turned brown
    s["gcc_p90"] -= 0.05
    update = history.update(T0 + timedelta(hours=31), s, trusted=True)
    assert "segmentation_suspect" not in update.flags
    assert update.derived["stress_score"] > 3.0
    assert update.derived["z_brown_fraction"] > 3.0 and update.derived["z_area"] > 3.0


def test_wilting_shrink_without_colour_change_scores_on_area() -> None:
    history, rng = learned()
    s = healthy(rng)
    s["plant_area_px"] *= 0.75  # leaves droop: top view shrinks, colour unchanged
    update = history.update(T0 + timedelta(hours=31), s, trusted=True)
    assert "segmentation_suspect" not in update.flags
    assert update.derived["z_area"] > 3.0 and update.derived["stress_score"] > 3.0


def test_state_round_trips_through_json() -> None:
    history, rng = learned()
    history.update(T0 + timedelta(hours=31), {**healthy(rng), "hue_mean_deg": float("nan")},
                   trusted=True)
    copy = ZoneHistory.from_state(CFG, json.loads(json.dumps(history.state())))
    sample = healthy(rng)
    t = T0 + timedelta(hours=40)
    assert copy.update(t, sample, trusted=True) == history.update(t, sample, trusted=True)
    with pytest.raises(ValueError, match="version"):
        ZoneHistory.from_state(CFG, {"version": 99})


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ZoneHistory(CFG).update(datetime(2026, 5, 1), healthy(np.random.default_rng(0)),
                                trusted=True)


def test_config_cross_checks_raise() -> None:
    with pytest.raises(ValueError, match="min_baseline"):
        SignalsConfig(min_baseline=20, baseline_window=10)
    with pytest.raises(ValueError, match="growth_min_span_hours"):
        SignalsConfig(growth_window_hours=6, growth_min_span_hours=12)
