"""Judging a trial: percentile, limits combined strictly, early rollback, patient commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fieldagent.modelupdate.health import DeviceLimits, combine_limits, judge, p95
from fieldagent.modelupdate.store import Trial, TrialLimits
from fieldcontract.manifest import HealthSettings

T0 = datetime(2025, 5, 1, tzinfo=UTC)
LIMITS = TrialLimits(window_seconds=100, max_error_rate=0.1, max_p95_latency_ms=10,
                     min_samples=10, max_boots=2)


def _trial(**kw: object) -> Trial:
    base: dict = {"version": "0.2.0", "started_at": T0, "limits": LIMITS}
    return Trial(**{**base, **kw})


def test_p95_is_an_observed_value_at_the_nearest_rank() -> None:
    assert p95([]) is None
    assert p95([7.0]) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert p95(values) == 95.0
    assert p95(list(reversed(values))) == 95.0
    assert p95([1.0] * 19 + [100.0]) == 1.0  # one outlier in 20 is the 5 % allowed
    assert p95([1.0] * 18 + [100.0, 100.0]) == 100.0


def test_the_stricter_limit_wins() -> None:
    release = HealthSettings(window_seconds=7200, max_error_rate=0.2, max_p95_latency_ms=30,
                             min_samples=50)
    device = DeviceLimits(window_seconds=3600, max_error_rate=0.01, max_boots=4)
    limits = combine_limits(release, device)
    assert (limits.window_seconds, limits.max_error_rate) == (7200, 0.01)
    assert (limits.max_p95_latency_ms, limits.min_samples, limits.max_boots) == (30, 50, 4)


@pytest.mark.parametrize(("trial", "elapsed", "decision", "reason"), [
    (_trial(samples=10, latencies_ms=(1.0,) * 10), 99, "wait", None),
    (_trial(samples=10, latencies_ms=(1.0,) * 10), 100, "commit", None),
    (_trial(samples=9, latencies_ms=(1.0,) * 9), 10_000, "wait", None),
    (_trial(samples=10, errors=1, latencies_ms=(1.0,) * 9), 100, "commit", None),
    (_trial(samples=10, errors=2, latencies_ms=(1.0,) * 8), 1, "rollback", "error_rate"),
    (_trial(samples=10, latencies_ms=(11.0,) * 10), 1, "rollback", "latency"),
    (_trial(samples=9, errors=9), 1, "wait", None),
    (_trial(boots=3), 0, "rollback", "crash_loop"),
    (_trial(boots=2), 0, "wait", None),
])
def test_judge(trial: Trial, elapsed: float, decision: str, reason: str | None) -> None:
    verdict = judge(trial, T0 + timedelta(seconds=elapsed))
    assert (verdict.decision, verdict.reason) == (decision, reason)
