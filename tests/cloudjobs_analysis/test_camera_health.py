"""Camera health: a morning fog is recurring at the right hours; random failures are not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from cloudjobs.analysis import AnalysisConfig
from cloudjobs.analysis.camera_health import QUALITY_COLUMNS, camera_health, hour_ranges
from cloudjobs.analysis.trends import Window
from tests.cloudjobs_analysis.conftest import Analysed


def test_morning_fog_is_recurring_at_its_hours(analysed: Analysed) -> None:
    p = analysed.planted
    fog = analysed.camera(*p.fog_camera, "fog")
    assert fog["pattern"] == "recurring"
    assert fog["recurring_hours"] == list(p.fog_hours)
    assert fog["recurring_days"] == p.fog_days_in_last_week
    assert fog["days_checked"] == 7
    hourly = fog["hourly_share"]
    assert all(hourly[h] > 0.9 for h in p.fog_hours)
    assert all(hourly[h] == 0 for h in range(24) if h not in p.fog_hours)
    assert "06-08h" in fog["reason"]
    assert any(line.startswith("south/cam1:") and "fog" in line
               for line in analysed.summary.camera_problems)


def test_random_failures_are_not_recurring(analysed: Analysed) -> None:
    blur = analysed.camera(*analysed.planted.random_camera, "blur")
    assert blur["pattern"] == "sporadic"
    assert blur["recurring_hours"] == []
    assert blur["share"] == pytest.approx(0.1, abs=0.03)
    assert blur["images"] == 14 * 96
    assert not any(line.startswith("south/cam2:") for line in analysed.summary.camera_problems)


def test_healthy_camera_has_only_an_empty_any_row(analysed: Analysed) -> None:
    rows = [r for r in analysed.health.to_pylist() if (r["site"], r["camera"]) == ("west", "cam2")]
    assert [r["flag"] for r in rows] == ["any"]
    assert rows[0]["hits"] == 0 and rows[0]["pattern"] == "none"


def _quality(stamps_flags: list[tuple[datetime, list[str]]]) -> pa.Table:
    return pa.table({
        "ts": pa.array([t for t, _ in stamps_flags], QUALITY_COLUMNS["ts"]),
        "camera": ["c"] * len(stamps_flags),
        "ok": [not f for _, f in stamps_flags],
        "flags": pa.array([f for _, f in stamps_flags], pa.list_(pa.string())),
        "date": [t.date().isoformat() for t, _ in stamps_flags],
    })


def test_all_day_failure_is_persistent_not_recurring() -> None:
    until = date(2024, 3, 10)
    rows = [(datetime(2024, 3, 10 - d, h, 0, tzinfo=UTC), ["frozen"])
            for d in range(7) for h in range(24)]
    now = datetime.combine(until, datetime.max.time(), UTC)
    table = camera_health("s", _quality(rows), Window(until - timedelta(days=6), until, now),
                          AnalysisConfig())
    frozen = next(r for r in table.to_pylist() if r["flag"] == "frozen")
    assert frozen["pattern"] == "persistent"
    assert len(frozen["recurring_hours"]) == 24


def test_hours_hit_on_too_few_days_are_not_recurring() -> None:
    until = date(2024, 3, 10)
    cfg = AnalysisConfig(recurring_days=7, recurring_min_days=4)
    # fog at 05:00 on 3 of 7 days: one day short
    rows = [(datetime(2024, 3, 10 - d, h, tzinfo=UTC), ["fog"] if h == 5 and d < 3 else [])
            for d in range(7) for h in range(24)]
    window = Window(until - timedelta(days=6), until, datetime(2024, 3, 11, tzinfo=UTC))
    fog = next(r for r in camera_health("s", _quality(rows), window, cfg).to_pylist()
           if r["flag"] == "fog")
    assert fog["pattern"] == "sporadic" and fog["recurring_hours"] == []
    rows += [(datetime(2024, 3, 6, 5, 30, tzinfo=UTC), ["fog"])]  # a 4th day, 2 of 2 images
    fog = next(r for r in camera_health("s", _quality(rows), window, cfg).to_pylist()
           if r["flag"] == "fog")
    assert fog["recurring_hours"] == [5]


def test_hour_ranges_join_consecutive_hours() -> None:
    assert hour_ranges([6, 7]) == "06-08h"
    assert hour_ranges([0, 1, 5, 22, 23]) == "00-02h, 05-06h, 22-24h"


def test_recurring_min_days_above_window_is_refused() -> None:
    with pytest.raises(ValueError, match="recurring_min_days"):
        AnalysisConfig(recurring_days=3, recurring_min_days=5)
