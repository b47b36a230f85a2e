"""From what the agents upload to the page: raw objects -> ``cloudjobs ingest`` -> report.

The raw lake comes from the lake tests' generator (written with the agent's own encoders),
so this checks the report against the curated datasets the real ingest writes, not only
against the contract as this folder's generator reads it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import pytest

from cloudjobs.lake.ingest import run_ingest
from cloudjobs.report import build_report
from cloudjobs.report.plots import heatmap_matrix
from cloudjobs.store import LocalStore
from tests.cloudjobs_lake.rawlake import RISING, make_raw_lake

NOW = datetime(2024, 5, 7, 20, tzinfo=UTC)


def test_report_over_an_ingested_lake(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    (tmp_path / "lake").mkdir()
    raw = make_raw_lake(store)
    run_ingest(store, now=NOW)
    report = build_report(store, tmp_path / "out", clock=lambda: NOW)

    site, camera, zone = RISING
    assert report.summary[0].startswith("1 zone needs attention")
    assert f"zone {zone} ({camera}) at site {site}" in report.summary[0]
    assert any("east-edge" in line and "not reported" in line for line in report.summary)
    assert len(report.plots) == 6

    per_day: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in raw.zone_records:
        if r["trusted"]:
            key = (r["site"], r["camera"], r["id"])
            per_day[key][r["ts"][:10]].append(r["signals"]["stress_score"])
    expected = {k: median(days[max(days)]) for k, days in per_day.items()}
    hm = heatmap_matrix(report.data.latest)
    got = {
        (s, label.split(" (")[1].rstrip(")"), label.split(" (")[0]): float(hm.values[i, j])
        for i, s in enumerate(hm.sites) for j, label in enumerate(hm.zones)
        if hm.values[i, j] == hm.values[i, j]
    }  # fmt: skip
    assert got == pytest.approx(expected)
