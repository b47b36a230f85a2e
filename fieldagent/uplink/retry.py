"""Retry with exponential backoff and full jitter; only for "retry later" errors.

Two users, one formula (``backoff_delay``):

* ``retrying(fn, policy=...)`` retries one call a few times within a short budget, via
  tenacity. It retries ``UplinkUnavailable`` only: ``UplinkRejected`` and ``UploadGone``
  are final for the request, and ``CircuitOpen`` means the breaker already knows the link
  is down, so waiting here would only hold the worker.
* ``next_retry_at(attempts, now)`` is the pure version the outbox uses to schedule an item
  after a nack: no sleeping, just a time.

Full jitter (a uniform delay between 0 and the exponential ceiling) spreads out the retries
of many devices that lost the same link at the same moment, so they do not all come back
together and knock the link over again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from fieldagent.uplink.errors import CircuitOpen, UplinkUnavailable

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call is retried before the error goes back to the caller.

    ``max_elapsed`` (seconds) is checked before each sleep: no retry starts after it.
    """

    max_attempts: int = 4
    max_elapsed: float = 120.0
    base: float = 1.0
    cap: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base <= 0 or self.cap < self.base:
            raise ValueError(f"retry policy {self}: need max_attempts >= 1 and 0 < base <= cap")


def backoff_delay(
    attempts: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after ``attempts`` failed attempts: uniform in [0, min(cap, base*2^(n-1))].

    ``rng`` returns a float in [0, 1); inject a constant for deterministic tests.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    ceiling = min(cap, base * 2.0 ** min(attempts - 1, 62))
    return ceiling * rng()


def next_retry_at(
    attempts: int,
    now: datetime,
    base: float = 30.0,
    cap: float = 3600.0,
    rng: Callable[[], float] = random.random,
) -> datetime:
    """When an item that failed ``attempts`` times may be tried again (pure; for nacks)."""
    return now + timedelta(seconds=backoff_delay(attempts, base=base, cap=cap, rng=rng))


def is_retryable(exc: BaseException) -> bool:
    """Retry later errors, except an open circuit (the breaker has its own clock)."""
    return isinstance(exc, UplinkUnavailable) and not isinstance(exc, CircuitOpen)


def retrying(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> T:
    """Call ``fn`` and retry it on ``UplinkUnavailable`` as ``policy`` allows.

    The last error is re-raised unchanged when attempts or time run out. ``sleep``,
    ``clock`` (seconds, monotonic) and ``rng`` are injectable so tests never really wait.
    """
    import tenacity  # here, not at the top: 'fieldagent status' reads RetryPolicy only

    policy = policy or RetryPolicy()
    started = clock()

    def stop(state: tenacity.RetryCallState) -> bool:
        out_of_time = clock() - started + state.upcoming_sleep > policy.max_elapsed
        return state.attempt_number >= policy.max_attempts or out_of_time

    def wait(state: tenacity.RetryCallState) -> float:
        return backoff_delay(state.attempt_number, base=policy.base, cap=policy.cap, rng=rng)

    retryer = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retryable),
        stop=stop,
        wait=wait,
        sleep=sleep,
        reraise=True,
        before_sleep=_log_retry,
    )
    return retryer(fn)


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "uplink attempt %d failed, retrying in %.1f s: %s",
        state.attempt_number,
        state.upcoming_sleep,
        error,
    )
