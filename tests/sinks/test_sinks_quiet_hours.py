"""Quiet hours: a warning at night waits for the morning, a critical goes at once."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from fieldagent.sinks.config import parse_window
from fieldagent.sinks.quiet import quiet_until
from tests.sinks.conftest import MakeDispatcher
from tests.sinks.factories import make_alert, webhook_sink
from tests.sinks.servers import Receiver
from tests.support.clock import SimClock

AMS = ZoneInfo("Europe/Amsterdam")


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=AMS)


def test_quiet_hours_hold_a_warning_and_let_a_critical_through(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    clock.now = local(2026, 6, 1, 22, 30).astimezone(UTC)
    d = make_dispatcher([webhook_sink(receiver.url, format="slack")],
                        quiet_hours=["22:00-06:00"], quiet_hours_except="critical")
    d.submit(make_alert(severity="warning", zone="W", since=clock.now))
    d.submit(make_alert(severity="critical", zone="C", since=clock.now))
    assert d.deliver_due().delivered == 1
    assert "zone C" in receiver.wait_for(1)[0].body.decode()
    assert d.status()["hook"]["held"] == 1

    clock.now = local(2026, 6, 2, 5, 59).astimezone(UTC)
    assert d.deliver_due().delivered == 0
    clock.now = local(2026, 6, 2, 6, 0).astimezone(UTC)
    assert d.deliver_due().delivered == 1
    held = receiver.requests[1].body.decode()
    assert "zone W" in held and "since 1 Jun 22:30" in held  # tells when it really began
    assert d.status()["hook"]["held"] == 0


def test_outside_quiet_hours_nothing_is_held(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    clock.now = local(2026, 6, 1, 21, 59).astimezone(UTC)
    d = make_dispatcher([webhook_sink(receiver.url)], quiet_hours=["22:00-06:00"])
    d.submit(make_alert(severity="info"))
    assert d.deliver_due().delivered == 1


@pytest.mark.parametrize(
    ("windows", "now", "until"),
    [
        (["22:00-06:00"], local(2026, 6, 1, 23, 0), local(2026, 6, 2, 6, 0)),
        (["22:00-06:00"], local(2026, 6, 2, 3, 0), local(2026, 6, 2, 6, 0)),
        (["22:00-06:00"], local(2026, 6, 2, 6, 0), None),
        (["12:00-13:30"], local(2026, 6, 2, 12, 0), local(2026, 6, 2, 13, 30)),
        (["12:00-13:30"], local(2026, 6, 2, 13, 30), None),
        (["22:00-00:00", "00:00-06:00"], local(2026, 6, 1, 23, 0), local(2026, 6, 2, 6, 0)),
        # the night clocks go back (25 October 2026): 8 wall-clock hours last 9 real ones
        (["22:00-06:00"], local(2026, 10, 24, 22, 0), local(2026, 10, 25, 6, 0)),
    ],
)
def test_quiet_until_is_the_end_of_the_local_window(
    windows: list[str], now: datetime, until: datetime | None
) -> None:
    got = quiet_until(now.astimezone(UTC), [parse_window(w) for w in windows], AMS)
    assert got == (None if until is None else until.astimezone(UTC))


def test_the_dst_night_window_really_lasts_nine_hours() -> None:
    start = local(2026, 10, 24, 22, 0).astimezone(UTC)
    end = quiet_until(start, [parse_window("22:00-06:00")], AMS)
    assert end is not None and (end - start).total_seconds() == 9 * 3600
