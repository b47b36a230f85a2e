"""The injected clock every source takes, so tests can run hours of polling in a moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def utc(clock: Clock) -> datetime:
    """The clock's time in UTC (a clock in another zone is still right, just shown in UTC)."""
    return clock().astimezone(UTC)


def system_clock() -> datetime:
    """The real time, aware UTC: what the service passes in production."""
    return datetime.now(UTC)
