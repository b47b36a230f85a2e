"""The text the grower reads, from alerts made by the real alert engine."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from fieldagent.alerts.config import default_rules
from fieldagent.alerts.rules import CAMERA_LEVEL, Alert, AlertEngine, Observation
from fieldagent.sinks import message
from tests.sinks.factories import T0

AMS = ZoneInfo("Europe/Amsterdam")


def _episode(zone: str, signals: list[dict[str, float]], flags: list[frozenset[str]],
             minutes: int = 5) -> list[Alert]:
    engine = AlertEngine(default_rules(), site="greenhouse-12", camera="cam1")
    out: list[Alert] = []
    for i, (sig, fl) in enumerate(zip(signals, flags, strict=True)):
        at = T0 + timedelta(minutes=minutes * i)
        out += engine.evaluate(at, [Observation(zone, sig, fl, trusted=True)])
    return out


def test_a_raised_zone_alert_reads_as_one_line() -> None:
    yellow = {"yellow_fraction": 0.21}
    (alert,) = _episode("B-2", [yellow, yellow], [frozenset(), frozenset()])
    assert message.text(alert, AMS) == (
        "⚠ warning — greenhouse-12 cam1 zone B-2: a large share of the leaf area has "
        "turned yellow (yellow fraction 0.21 > 0.15, since 10:05)"
    )


def test_a_resolved_alert_says_since_when_and_how_long() -> None:
    y, ok = {"yellow_fraction": 0.21}, {"yellow_fraction": 0.05}
    raised, resolved = _episode("B-2", [y, y] + [y] * 25 + [ok, ok], [frozenset()] * 29)
    assert raised.key == resolved.key
    text = message.text(resolved, AMS)
    assert text.startswith("✅ resolved — greenhouse-12 cam1 zone B-2: a large share")
    assert "over after 2 h 20 min (since 10:05; yellow fraction now 0.05)" in text


def test_a_camera_level_alert_names_no_zone() -> None:
    (alert,) = _episode(CAMERA_LEVEL, [{}] * 3, [frozenset({"fog"})] * 3)
    assert message.text(alert, AMS) == (
        "ℹ info — greenhouse-12 cam1: the lens is fogged or covered in condensation "
        "(fog for 3 images, since 10:05)"
    )
    details = message.details(alert, AMS, None, attached=False)
    assert "Zone: (whole camera)" in details and "Evidence image: not attached\n" in details


def test_an_episode_from_another_day_shows_the_date() -> None:
    assert message.clock_time(T0 - timedelta(days=1), T0, AMS) == "31 May 10:05"
    assert message.clock_time(T0 - timedelta(hours=1), T0, AMS) == "09:05"


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(seconds=30), "under a minute"),
        (timedelta(minutes=25), "25 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(hours=2, minutes=15), "2 h 15 min"),
        (timedelta(days=3, hours=4, minutes=9), "3 days 4 h"),
    ],
)
def test_durations_read_naturally(span: timedelta, words: str) -> None:
    assert message.duration(span) == words
