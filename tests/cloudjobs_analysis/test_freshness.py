"""Freshness: lags are exact, the silent site is silent, the others are on time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from cloudjobs.analysis.freshness import human_duration, longest_gap_s
from tests.cloudjobs_analysis.conftest import Analysed


def test_silent_site_lag_is_exact(analysed: Analysed) -> None:
    p = analysed.planted
    row = analysed.site(p.silent_site)
    last_day = p.last_data_day(p.silent_site)
    last_image = datetime.combine(last_day, time(23, 5), UTC)
    last_beat = datetime.combine(last_day, time(23, 30), UTC)
    assert row["last_signal_ts"] == last_image
    assert row["last_heartbeat_at"] == last_beat
    assert row["signal_lag_s"] == (p.now - last_image).total_seconds()
    assert row["heartbeat_lag_s"] == (p.now - last_beat).total_seconds()
    assert row["status"] == "silent"
    assert row["days_with_signals"] == 14 - p.silent_days
    assert row["longest_gap_s"] == pytest.approx((p.now - last_image).total_seconds())
    assert any(line.startswith(f"{p.silent_site}: silent") for line in
               analysed.summary.freshness_problems)


def test_sites_on_time_are_ok_with_their_cadence(analysed: Analysed) -> None:
    p = analysed.planted
    for site in ("north", "south", "west"):
        row = analysed.site(site)
        assert row["status"] == "ok", row["reason"]
        assert row["signal_lag_s"] == (p.now - row["last_signal_ts"]).total_seconds()
        assert row["heartbeat_cadence_s"] == 1800.0
        assert row["days_in_window"] == 14
    assert analysed.site("north")["image_cadence_s"] == 3600.0
    assert analysed.site("south")["image_cadence_s"] == 900.0  # the 15-minute camera wins
    assert len(analysed.summary.freshness_problems) == 1


def test_longest_gap_counts_the_silence_at_the_end() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=5)]
    assert longest_gap_s(stamps, t0 + timedelta(hours=6)) == 4 * 3600
    assert longest_gap_s(stamps, t0 + timedelta(hours=15)) == 10 * 3600
    assert longest_gap_s([], t0) is None


def test_human_duration() -> None:
    assert human_duration(93_784) == "1d 2h"
    assert human_duration(2 * 86_400 + 1200) == "2d"
    assert human_duration(1200) == "20m"
    assert human_duration(45) == "45s"
    assert human_duration(0) == "0s"
