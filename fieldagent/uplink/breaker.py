"""A circuit breaker: stop calling a link that is known to be down, probe it now and then.

    closed --N consecutive UplinkUnavailable--> open --cool-down--> half-open (ONE probe)
    half-open --probe ok--> closed          half-open --probe fails--> open (longer cool-down)

On a metered link every failed attempt costs bytes and time, and a queue of uploads would
each wait out its own timeouts. While open, calls fail at once with ``CircuitOpen`` (a kind
of ``UplinkUnavailable``), and ``status()`` says since when the link is down, so health
reports never show "healthy" while offline.

Only ``UplinkUnavailable`` counts as a failure. Any other ``UplinkError`` (a refusal, a
gone upload) means the server answered: the link works. The cool-down doubles after each
failed probe up to ``max_cool_down``, so a day-long outage costs a few dozen probes, not
thousands. Time comes from an injected clock; if the wall clock jumps backwards (NTP on a
device without a real-time clock), the cool-down counts as over rather than stretching.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TypeVar

from fieldagent.uplink.errors import CircuitOpen, UplinkError, UplinkUnavailable

T = TypeVar("T")


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerStatus:
    """A snapshot for health reports."""

    name: str
    state: BreakerState
    consecutive_failures: int
    down_since: datetime | None
    retry_at: datetime | None
    last_error: str | None


class CircuitBreaker:
    """Guards one link (one transport). Thread-safe; share one per link."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        cool_down: timedelta = timedelta(seconds=30),
        max_cool_down: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if failure_threshold < 1 or cool_down <= timedelta(0) or max_cool_down < cool_down:
            raise ValueError(f"breaker {name}: need threshold >= 1 and 0 < cool_down <= max")
        self.name = name
        self._threshold = failure_threshold
        self._base_cool_down = cool_down
        self._max_cool_down = max_cool_down
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._cool_down = cool_down
        self._opened_at: datetime | None = None
        self._down_since: datetime | None = None
        self._probe_since: datetime | None = None
        self._last_error: str | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` unless the circuit is open; record how it went."""
        self.before_call()
        try:
            result = fn()
        except UplinkUnavailable as exc:
            self.record_failure(exc)
            raise
        except UplinkError:
            self.record_success()
            raise
        except BaseException:
            self.release_probe()
            raise
        self.record_success()
        return result

    def before_call(self) -> None:
        """Raise ``CircuitOpen`` unless a call may go ahead now (the one probe, if half-open)."""
        with self._lock:
            now = self._clock()
            if self._state is BreakerState.OPEN and self._cool_down_over(now):
                self._state = BreakerState.HALF_OPEN
            if self._state is BreakerState.CLOSED:
                return
            if self._state is BreakerState.HALF_OPEN and self._probe_free(now):
                self._probe_since = now
                return
            raise self._refusal(now)

    def record_success(self) -> None:
        """The server answered: close the circuit and forget the failures."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._cool_down = self._base_cool_down
            self._opened_at = self._down_since = self._probe_since = None
            self._last_error = None

    def record_failure(self, exc: BaseException) -> None:
        """The link failed: count it; open at the threshold, re-open after a failed probe."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            self._last_error = str(exc)
            if self._state is BreakerState.HALF_OPEN:
                self._cool_down = min(self._cool_down * 2, self._max_cool_down)
                self._open(now)
            elif self._state is BreakerState.CLOSED and self._failures >= self._threshold:
                self._open(now)

    def release_probe(self) -> None:
        """The probe ended without telling anything about the link (a bug, an interrupt)."""
        with self._lock:
            self._probe_since = None

    def status(self) -> BreakerStatus:
        """Where the breaker stands, for health reports ("link down since ...")."""
        with self._lock:
            retry_at = None
            if self._opened_at is not None and self._state is not BreakerState.CLOSED:
                retry_at = self._opened_at + self._cool_down
            return BreakerStatus(
                name=self.name,
                state=self._state,
                consecutive_failures=self._failures,
                down_since=self._down_since,
                retry_at=retry_at,
                last_error=self._last_error,
            )

    # -- internals (called with the lock held) --------------------------------------

    def _open(self, now: datetime) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._probe_since = None
        if self._down_since is None:
            self._down_since = now

    def _cool_down_over(self, now: datetime) -> bool:
        assert self._opened_at is not None
        return now < self._opened_at or now - self._opened_at >= self._cool_down

    def _probe_free(self, now: datetime) -> bool:
        """No probe out, or the one out has been gone a whole cool-down (lost, not slow)."""
        since = self._probe_since
        return since is None or now < since or now - since >= self._cool_down

    def _refusal(self, now: datetime) -> CircuitOpen:
        opened = self._opened_at or now
        retry_at = max(opened + self._cool_down, now)
        down = self._down_since.isoformat() if self._down_since else "just now"
        return CircuitOpen(
            f"uplink {self.name} is down since {down} after {self._failures} consecutive "
            f"failures (last: {self._last_error}); next probe at {retry_at.isoformat()}",
            retry_at=retry_at,
            down_since=self._down_since,
        )
