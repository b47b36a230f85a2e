"""Zone trends: the planted yellowing zone stands out; flat zones and one bad day do not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cloudjobs.analysis import AnalysisConfig, CropMap, run_analysis
from cloudjobs.analysis.trends import SIGNAL_COLUMNS, daily_medians
from cloudjobs.lake.reader import open_reader
from tests.cloudjobs_analysis.conftest import Analysed, read_dataset
from tests.cloudjobs_analysis.curated import Planted


def test_planted_yellowing_zone_ranks_first_against_peers(analysed: Analysed) -> None:
    site, camera, zone = analysed.planted.yellowing
    row = analysed.zone(site, camera, zone)
    assert row["peer_rank"] == 1
    assert row["flagged"] is True
    assert row["peer_count"] == 12  # 4 sites x 2 cameras x 2 zones, minus its own site's 4
    assert row["stress_score_peer_z"] > 3 and row["yellow_fraction_peer_z"] > 3
    assert row["gcc_peer_z"] < -3  # greenness falls
    # Theil-Sen recovers the planted slopes (0.25 stress/day, 0.01 yellow/day)
    assert row["stress_score_slope_per_day"] == pytest.approx(0.25, abs=0.03)
    assert row["yellow_fraction_slope_per_day"] == pytest.approx(0.01, abs=0.002)
    assert "stress_score rising" in row["reason"] and "peer zones" in row["reason"]
    assert analysed.summary.flagged_zones[0].startswith(f"{site}/{camera}/{zone}:")


def test_flat_zones_are_not_flagged(analysed: Analysed) -> None:
    others = [r for r in analysed.trends.to_pylist()
              if (r["site"], r["camera"], r["zone"]) != analysed.planted.yellowing]
    assert len(others) == 15
    assert not [r for r in others if r["flagged"]]
    for r in others:
        assert abs(r["stress_score_slope_per_day"]) < 0.05
        assert r["reason"] == ""
    assert len(analysed.summary.flagged_zones) == 1


def test_one_outlier_day_moves_neither_slope_nor_recent_value(analysed: Analysed) -> None:
    p = analysed.planted
    row = analysed.zone(*p.outlier_zone)
    assert not row["flagged"]
    assert abs(row["stress_score_peer_z"]) < 1.5
    assert row["stress_score_recent"] < 1.5  # the median of 3 days ignores the one at 6.0
    # The outlier is real and large: a plain least-squares slope would be misled by it.
    signals = open_reader(p.root).read("signals", p.outlier_zone[0], SIGNAL_COLUMNS,
                                       p.since, p.until)
    daily = daily_medians(signals).to_pylist()
    ours = [d for d in daily if (d["camera"], d["zone"]) == p.outlier_zone[1:]]
    x = np.array([(date.fromisoformat(d["date"]) - p.since).days for d in ours], dtype=float)
    y = np.array([d["stress_score"] for d in ours])
    assert max(y) > 5.0
    ols = np.polyfit(x, y, 1)[0]
    assert abs(ols) > 3 * abs(row["stress_score_slope_per_day"])


def test_history_z_compares_the_zone_with_its_own_past(analysed: Analysed) -> None:
    row = analysed.zone(*analysed.planted.yellowing)
    assert row["stress_score_history_z"] > 3
    assert row["history_days"] >= AnalysisConfig().min_days
    flat = analysed.zone("west", "cam2", "bench-a")
    assert abs(flat["stress_score_history_z"]) < 1.5


def test_untrusted_rows_are_counted_not_used(analysed: Analysed) -> None:
    fog = analysed.zone(*analysed.planted.fog_camera, "bench-a")
    # 2 fogged hours of 24 on 13 of the 14 days
    assert fog["untrusted_share"] == pytest.approx(26 / 336)
    assert fog["samples"] == 336 - 26


def test_silent_site_zones_use_the_days_they_have(analysed: Analysed) -> None:
    row = analysed.zone(analysed.planted.silent_site, "cam1", "bench-a")
    assert row["days_observed"] == 14 - analysed.planted.silent_days
    assert row["stress_score_slope_per_day"] is not None


def test_a_column_missing_from_older_files_reads_as_null(analysed: Analysed) -> None:
    p = analysed.planted
    signals = open_reader(p.root).read("signals", "west", SIGNAL_COLUMNS, p.first_day,
                                       p.until)
    first_days = pc.is_in(signals.column("date"), pa.array(
        [p.first_day.isoformat(), date.fromordinal(p.first_day.toordinal() + 1).isoformat()]))
    assert signals.filter(first_days).column("gcc").null_count == signals.filter(
        first_days).num_rows > 0
    assert analysed.zone("west", "cam1", "bench-b")["gcc_slope_per_day"] is not None


def test_crop_mapping_limits_peers_to_the_same_crop(planted: Planted) -> None:
    crops = CropMap({"north": "tomato", "south": "tomato", "east": "tomato",
                     "west": {"cam1/bench-a": "cucumber", "*": "tomato"}})
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now,
                     crops=crops)
    rows = read_dataset(planted.root, "analysis_zone_trends").to_pylist()
    by_zone = {(r["site"], r["camera"], r["zone"]): r for r in rows}
    cucumber = by_zone[("west", "cam1", "bench-a")]
    assert cucumber["crop"] == "cucumber"
    assert cucumber["peer_count"] == 0 and cucumber["stress_score_peer_z"] is None
    assert cucumber["peer_rank"] is None
    tomato = by_zone[planted.yellowing]
    assert tomato["crop"] == "tomato"
    assert tomato["peer_count"] == 11  # 12 zones elsewhere, minus the cucumber bench
    assert tomato["peer_rank"] == 1


def test_too_few_days_gives_no_slope_and_says_why(planted: Planted) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        run_analysis(planted.root, planted.until, planted.until, pool, now=planted.now)
    rows = read_dataset(planted.root, "analysis_zone_trends").to_pylist()
    assert rows and all(r["stress_score_slope_per_day"] is None for r in rows)
    assert all(not r["flagged"] for r in rows)
    north = next(r for r in rows if r["site"] == "north")
    assert "only 1 day with trusted data" in north["reason"]
