"""Backoff with full jitter, and which errors are worth a retry. No real sleeping."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fieldagent.uplink.errors import (
    ChecksumMismatch,
    CircuitOpen,
    UplinkError,
    UplinkMisconfigured,
    UplinkRejected,
    UplinkUnavailable,
    UploadGone,
)
from fieldagent.uplink.retry import RetryPolicy, backoff_delay, next_retry_at, retrying
from tests.support.clock import SimClock

NOW = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    top = [backoff_delay(n, base=1.0, cap=30.0, rng=lambda: 1.0) for n in range(1, 8)]
    assert top == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(3, base=1.0, cap=30.0, rng=lambda: 0.0) == 0.0
    assert backoff_delay(10_000, base=1.0, cap=30.0, rng=lambda: 0.5) == 15.0


def test_full_jitter_spreads_devices_out() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(5, base=1.0, cap=60.0, rng=rng.random) for _ in range(200)]
    assert all(0.0 <= d <= 16.0 for d in delays)
    assert min(delays) < 2.0 and max(delays) > 14.0


def test_next_retry_at_is_pure() -> None:
    assert next_retry_at(1, NOW, base=30, cap=3600, rng=lambda: 1.0) == NOW + timedelta(seconds=30)
    assert next_retry_at(20, NOW, 30, 3600, lambda: 0.5) == NOW + timedelta(seconds=1800)
    with pytest.raises(ValueError, match="attempts"):
        next_retry_at(0, NOW)


def flaky(errors: list[Exception], result: str = "ok") -> Callable[[], str]:
    """A call that raises the given errors in turn, then returns ``result``."""
    pending = list(errors)

    def call() -> str:
        if pending:
            raise pending.pop(0)
        return result

    return call


def test_unavailable_is_retried_until_it_works() -> None:
    waits: list[float] = []
    call = flaky([UplinkUnavailable("reset"), ChecksumMismatch("bad digest")])
    assert retrying(call, sleep=waits.append, rng=lambda: 1.0) == "ok"
    assert waits == [1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [
        UplinkRejected("too large"),
        UplinkMisconfigured("access denied"),
        UploadGone("no such upload"),
        CircuitOpen("down", retry_at=NOW, down_since=NOW),
    ],
)
def test_final_errors_are_not_retried(error: UplinkError) -> None:
    waits: list[float] = []
    with pytest.raises(type(error)):
        retrying(flaky([error]), sleep=waits.append)
    assert waits == []


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    errors: list[Exception] = [UplinkUnavailable(f"try {i}") for i in range(1, 6)]
    waits: list[float] = []
    with pytest.raises(UplinkUnavailable, match="try 3"):
        retrying(flaky(errors), policy=RetryPolicy(max_attempts=3), sleep=waits.append)
    assert len(waits) == 2


def test_no_retry_starts_after_the_time_budget() -> None:
    clock = SimClock()
    errors: list[Exception] = [UplinkUnavailable("down")] * 50
    policy = RetryPolicy(max_attempts=50, max_elapsed=20.0, base=4.0, cap=4.0)
    with pytest.raises(UplinkUnavailable):
        retrying(flaky(errors), policy=policy, sleep=clock.sleep, clock=clock.monotonic,
                 rng=lambda: 1.0)
    assert clock.monotonic() == 20.0  # five waits of 4 s; a sixth would end past the budget


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError):
        retrying(flaky([KeyError("bug")]), sleep=lambda s: None)


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
