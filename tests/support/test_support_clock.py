"""The simulated clock keeps the promises the product's two clock shapes rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clock import T0, SimClock


def test_sleep_and_advance_move_wall_time_and_monotonic_seconds_together() -> None:
    clock = SimClock()
    clock.sleep(1.5)
    assert clock.advance(minutes=2) == T0 + timedelta(seconds=121.5) == clock() == clock.now
    assert clock.monotonic() == 121.5


def test_setting_now_forward_is_time_passing_and_back_is_a_wall_clock_correction() -> None:
    clock = SimClock(datetime(2026, 5, 1, tzinfo=UTC))
    clock.now += timedelta(hours=1)
    clock.advance(-600)  # NTP steps the wall clock back ...
    clock.now = datetime(1970, 1, 1, tzinfo=UTC)
    assert clock() == datetime(1970, 1, 1, tzinfo=UTC)
    assert clock.monotonic() == 3600.0  # ... monotonic time never goes back


def test_a_negative_sleep_and_a_naive_start_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        SimClock().sleep(-1)
    with pytest.raises(ValueError, match="tzinfo=UTC"):
        SimClock(datetime(2026, 6, 1))
