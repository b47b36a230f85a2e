"""The degradation ladder: up while the backlog cannot drain within the horizon, one step at a
time; down again, with hysteresis, once it drains comfortably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fieldagent.offload.degrade import DegradePlanner, DegradeState
from fieldagent.policy import load_policy

T0 = datetime(2026, 5, 4, tzinfo=UTC)
TICK = timedelta(minutes=5)
HUGE = {"image": 50_000_000_000, "signals": 10_000_000}  # days of images behind
SMALL = {"image": 100_000_000, "signals": 1_000_000}


def _simulate(
    planner: DegradePlanner,
    state: DegradeState,
    start: datetime,
    hours: float,
    backlog: dict[str, int],
    rate: float | None,
) -> list[DegradeState]:
    states = []
    for i in range(int(hours * 12)):
        state = planner.update(start + i * TICK, backlog, rate, state)
        states.append(state)
    return states


def test_steps_up_one_rung_per_step_up_after_while_backlog_cannot_drain() -> None:
    planner = DegradePlanner(load_policy("default"))  # step_up_after 30m, 5 rungs
    states = _simulate(planner, DegradeState(), T0, 4, HUGE, 200_000)
    levels = [s.level for s in states]
    assert levels[0] == 1 and levels[5] == 1 and levels[6] == 2  # 30 minutes between steps
    assert max(levels) == 5 and levels == sorted(levels)
    last = states[-1]
    assert last.steps_active == (
        "lower_sampling",
        "crops_only",
        "lower_jpeg_quality",
        "thumbnails",
        "essential_only",
    )
    assert "last step" in last.reason and last.drain_eta_s and last.drain_eta_s > 86_400


def test_steps_down_with_hysteresis_once_the_backlog_drains() -> None:
    planner = DegradePlanner(load_policy("default"))  # recover_after 2h
    high = _simulate(planner, DegradeState(), T0, 3, HUGE, 200_000)[-1]
    assert high.level == 5
    start = T0 + timedelta(hours=3)
    states = _simulate(planner, high, start, 12, SMALL, 200_000)
    levels = [s.level for s in states]
    assert levels[:23] == [5] * 23  # nothing undone before two calm hours
    assert levels[24] == 4 and levels[-1] == 0 and levels == sorted(levels, reverse=True)
    assert "step down" in states[24].reason


def test_middle_zone_holds_the_level_and_resets_the_calm_clock() -> None:
    planner = DegradePlanner(load_policy("default"))
    state = _simulate(planner, DegradeState(), T0, 1, HUGE, 200_000)[-1]
    level = state.level
    # 0.6 to 1 horizon: neither stepping up nor down
    rate = 200_000.0
    middle = {"signals": int(rate * 86_400 * 0.7)}
    calm = _simulate(planner, state, T0 + timedelta(hours=1), 1, SMALL, rate)[-1]
    assert calm.calm_since is not None
    held = _simulate(planner, calm, T0 + timedelta(hours=2), 6, middle, rate)
    assert all(s.level == level for s in held) and held[-1].calm_since is None
    assert "within the horizon" in held[-1].reason


def test_no_measurement_holds_the_level() -> None:
    planner = DegradePlanner(load_policy("default"))
    state = planner.update(T0, HUGE, 200_000, DegradeState())
    held = _simulate(planner, state, T0 + TICK, 5, HUGE, None)
    assert all(s.level == 1 and s.drain_eta_s is None for s in held)
    assert "no throughput measurement" in held[-1].reason


def test_eta_counts_windows_budget_and_local_only_classes() -> None:
    default = DegradePlanner(load_policy("default"))
    # images only upload 11 of 24 hours (20:00-07:00), signals any time
    assert default.drain_eta({"image": 11_000_000}, 1_000) == pytest.approx(24_000)
    assert default.drain_eta({"signals": 11_000_000}, 1_000) == pytest.approx(11_000)
    metered = DegradePlanner(load_policy("metered-cellular"))
    # images get at most 60% of 30 MB a day, however fast the link
    assert metered.drain_eta({"image": 18_000_000}, 1e7) == pytest.approx(86_400)
    signals_only = DegradePlanner(load_policy("signals-only"))
    assert signals_only.drain_eta({"image": 10**12}, 1_000) == 0


def test_overrides_follow_the_active_steps() -> None:
    planner = DegradePlanner(load_policy("default"))
    assert planner.overrides(DegradeState()) == planner.overrides(DegradeState(level=0))
    two = planner.overrides(DegradeState(level=2))
    assert (two.random_share_factor, two.mode, two.jpeg_quality, two.essential_only) == (
        0.5,
        "crop",
        None,
        False,
    )
    five = planner.overrides(DegradeState(level=5))
    assert (five.mode, five.jpeg_quality, five.essential_only) == ("thumbnail", 65, True)
