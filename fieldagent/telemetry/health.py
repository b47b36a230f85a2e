"""Is the agent loop alive? The answer behind ``/healthz``.

A process that answers HTTP is not necessarily working: the loop that takes images may be
stuck on a hung camera or a dead lock. The loop calls ``tick()`` once per round;
``/healthz`` is healthy only while the last tick is recent. The link being down does not
make the agent unhealthy (it keeps analysing and alerting locally); that is reported by
the uplink metrics instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime


class Liveness:
    """Remembers the loop's last tick; calling it answers "ticked within ``max_age_s``?"."""

    def __init__(self, clock: Callable[[], datetime], max_age_s: float) -> None:
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self._clock, self.max_age_s = clock, max_age_s
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def tick(self) -> None:
        """The loop completed a round."""
        now = self._clock()
        with self._lock:
            self._last = now

    def age_s(self) -> float | None:
        """Seconds since the last tick; None before the first."""
        with self._lock:
            last = self._last
        return None if last is None else (self._clock() - last).total_seconds()

    def __call__(self) -> bool:
        age = self.age_s()
        return age is not None and age <= self.max_age_s
