"""One simulated clock for every test that injects time.

The product takes time in two shapes, and ``SimClock`` is both:

* **wall time**, ``Callable[[], datetime]`` returning an aware UTC datetime: the outbox,
  the sources, the uploader and its circuit breaker, the batcher, the offloader, telemetry,
  the alert sinks, model updates and the agent. Where something waits it also takes
  ``sleep: Callable[[float], None]``. Call the clock for the time; pass ``clock.sleep``.
* **monotonic seconds**, ``Callable[[], float]``: ``retrying(clock=...)`` and
  ``Uploader(timer=...)``. Pass ``clock.monotonic``.

Nothing here sleeps: ``sleep`` and ``advance`` move time at once, so a simulated week runs
in a second. A test may also set ``now`` directly (a camera's capture time, a breaker's
retry time). Moving the wall time forward, by any of these, is time passing and counts
towards ``monotonic``; moving it back is what NTP does to a device clock that ran ahead, and
leaves ``monotonic`` where it was, as on a real device.

``fieldagent.demo.SimClock`` is the product's own simulated clock (the demo and the
benchmarks run the agent on it). It has only the wall-time half, so the tests use this one,
which is a drop-in for it (``now``, calling it, ``sleep``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # the demo's start too: 06:00 UTC, 1 June 2026


class SimClock:
    """Simulated time: wall time (call it, or read ``now``) and monotonic seconds
    (``monotonic``); ``sleep`` and ``advance`` move both without waiting."""

    def __init__(self, start: datetime = T0) -> None:
        if start.tzinfo is None:
            raise ValueError(f"SimClock needs an aware start time, got naive {start}: the "
                             "product compares with aware UTC datetimes; pass tzinfo=UTC")
        self._now = start
        self._elapsed = 0.0

    @property
    def now(self) -> datetime:
        """The wall time; setting it moves the clock (forward: time passes; back: NTP)."""
        return self._now

    @now.setter
    def now(self, when: datetime) -> None:
        self._elapsed += max((when - self._now).total_seconds(), 0.0)
        self._now = when

    def __call__(self) -> datetime:
        """The wall time, as the product's ``clock()`` reads it."""
        return self._now

    def monotonic(self) -> float:
        """Seconds of simulated time since the start, as ``time.monotonic`` counts them."""
        return self._elapsed

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move the wall time by ``seconds`` plus any ``timedelta`` keywords (``minutes=5``,
        ``days=2``); a negative step is a clock correction. Returns the new time."""
        self.now += timedelta(seconds=seconds, **delta)
        return self._now

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass at once (the product's injected ``sleep``)."""
        if seconds < 0:
            raise ValueError(f"SimClock.sleep({seconds}): a sleep cannot be negative "
                             "(time.sleep refuses it too); the caller computed a wait wrongly")
        self.advance(seconds)
