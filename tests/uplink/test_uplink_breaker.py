"""The circuit breaker, driven by a simulated clock: a simulated outage in milliseconds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from fieldagent.uplink.breaker import BreakerState, CircuitBreaker
from fieldagent.uplink.errors import CircuitOpen, UplinkRejected, UplinkUnavailable
from tests.support.clock import SimClock

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def down() -> None:
    raise UplinkUnavailable("connection refused by 127.0.0.1:9")


def up() -> str:
    return "sent"


def make(clock: SimClock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(
        "s3",
        failure_threshold=threshold,
        cool_down=timedelta(seconds=30),
        max_cool_down=timedelta(seconds=100),
        clock=clock,
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(UplinkUnavailable):
            breaker.call(down)


def test_opens_after_n_consecutive_failures_and_reports_since_when() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.status().state is BreakerState.CLOSED
    clock.advance(5)
    fail(breaker, 1)
    status = breaker.status()
    assert status.state is BreakerState.OPEN and status.down_since == clock.now
    assert status.retry_at == clock.now + timedelta(seconds=30)
    assert "connection refused" in (status.last_error or "")
    calls: list[str] = []
    with pytest.raises(CircuitOpen) as err:
        breaker.call(lambda: calls.append("x"))
    assert calls == [] and err.value.retry_at == clock.now + timedelta(seconds=30)
    assert "down since 2026-05-01T06:00:05" in str(err.value)


def test_a_success_resets_the_count() -> None:
    breaker = make(SimClock(T0))
    fail(breaker, 2)
    assert breaker.call(up) == "sent"
    fail(breaker, 2)
    assert breaker.status().state is BreakerState.CLOSED


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)
    breaker.before_call()  # the probe is out ...
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # ... so a second caller is refused
    assert breaker.status().state is BreakerState.HALF_OPEN
    breaker.record_success()
    status = breaker.status()
    assert status.state is BreakerState.CLOSED and status.down_since is None


def test_a_failed_probe_reopens_with_a_longer_cool_down() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    for expected in (60, 100, 100):  # doubles, capped at max_cool_down
        retry_at = breaker.status().retry_at
        assert retry_at is not None
        clock.now = retry_at
        fail(breaker, 1)
        status = breaker.status()
        assert status.state is BreakerState.OPEN
        assert status.retry_at == clock.now + timedelta(seconds=expected)
        assert status.down_since == T0  # still down since the first opening
    clock.advance(100)
    assert breaker.call(up) == "sent"
    clock.advance(1)
    fail(breaker, 3)
    assert breaker.status().retry_at == clock.now + timedelta(seconds=30)  # reset


def test_a_refusal_means_the_link_works() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)

    def refused() -> None:
        raise UplinkRejected("403 AccessDenied")

    with pytest.raises(UplinkRejected):
        breaker.call(refused)
    assert breaker.status().state is BreakerState.CLOSED


def test_a_lost_probe_is_replaced_after_a_cool_down() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)
    breaker.before_call()  # a probe that never reports back
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.advance(1)
    breaker.before_call()  # a new probe is allowed


def test_a_bug_in_the_probe_frees_the_probe_slot() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)

    def buggy() -> None:
        raise KeyError("a bug, not a link problem")

    with pytest.raises(KeyError):
        breaker.call(buggy)
    assert breaker.call(up) == "sent"


def test_a_clock_jumping_back_does_not_keep_the_circuit_open() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.now = datetime(1970, 1, 1, tzinfo=UTC)  # NTP fixes a clock with no RTC ...
    assert breaker.call(up) == "sent"  # ... the cool-down counts as over


def test_only_one_probe_among_threads() -> None:
    clock = SimClock(T0)
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)
    admitted: list[int] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            breaker.before_call()
            admitted.append(i)
        except CircuitOpen:
            pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 1


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker("s3", failure_threshold=0)
