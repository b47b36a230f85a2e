"""Judging a model on trial: commit after a healthy window, roll back as soon as it is not.

The device's config and the release's manifest both set limits; the stricter wins (the
longer window, the lower error rate), so a release cannot loosen what a site demands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fieldagent.modelupdate.store import Trial, TrialLimits
from fieldcontract.manifest import HealthSettings


@dataclass(frozen=True)
class DeviceLimits:
    """The site's own trial limits (from ``ModelUpdateConfig``)."""

    window_seconds: float = 3600.0
    max_error_rate: float = 0.05
    max_boots: int = 3


@dataclass(frozen=True)
class Verdict:
    """What to do with the trial now, and the numbers behind it."""

    decision: Literal["wait", "commit", "rollback"]
    reason: str | None
    samples: int
    error_rate: float | None
    p95_latency_ms: float | None

    def metrics(self) -> dict[str, float | int | None]:
        return {"samples": self.samples, "error_rate": self.error_rate,
                "p95_latency_ms": self.p95_latency_ms}


def combine_limits(release: HealthSettings, device: DeviceLimits) -> TrialLimits:
    """The stricter of the release's and the device's limits."""
    return TrialLimits(
        window_seconds=max(release.window_seconds, device.window_seconds),
        max_error_rate=min(release.max_error_rate, device.max_error_rate),
        max_p95_latency_ms=release.max_p95_latency_ms,
        min_samples=release.min_samples,
        max_boots=device.max_boots,
    )


def p95(values: Sequence[float]) -> float | None:
    """The 95th percentile by nearest rank (an observed value, not an interpolation)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def judge(trial: Trial, now: datetime) -> Verdict:
    """Roll back on too many boots, errors or slow runs; commit once the window is over.

    Errors and latency are judged as soon as ``min_samples`` runs were recorded, so a bad
    model is dropped early; a commit waits for both the window and ``min_samples``.
    """
    limits = trial.limits
    rate = trial.errors / trial.samples if trial.samples else None
    latency = p95(trial.latencies_ms)

    def verdict(decision: Literal["wait", "commit", "rollback"], reason: str | None) -> Verdict:
        return Verdict(decision, reason, trial.samples, rate, latency)

    if trial.boots > limits.max_boots:
        return verdict("rollback", "crash_loop")
    if trial.samples >= limits.min_samples:
        if rate is not None and rate > limits.max_error_rate:
            return verdict("rollback", "error_rate")
        if latency is not None and latency > limits.max_p95_latency_ms:
            return verdict("rollback", "latency")
        if (now - trial.started_at).total_seconds() >= limits.window_seconds:
            return verdict("commit", None)
    return verdict("wait", None)
