"""Fixtures: the planted curated lake, built once, and one analysis run over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from cloudjobs.analysis import AnalysisSummary, run_analysis
from tests.cloudjobs_analysis.curated import Planted, build_lake


@dataclass(frozen=True)
class Analysed:
    """The planted lake after one analysis run of its 14-day window."""

    planted: Planted
    summary: AnalysisSummary
    trends: pa.Table
    health: pa.Table
    freshness: pa.Table

    def zone(self, site: str, camera: str, zone: str) -> dict[str, Any]:
        (row,) = [r for r in self.trends.to_pylist()
                  if (r["site"], r["camera"], r["zone"]) == (site, camera, zone)]
        return row

    def camera(self, site: str, camera: str, flag: str) -> dict[str, Any]:
        (row,) = [r for r in self.health.to_pylist()
                  if (r["site"], r["camera"], r["flag"]) == (site, camera, flag)]
        return row

    def site(self, site: str) -> dict[str, Any]:
        (row,) = [r for r in self.freshness.to_pylist() if r["site"] == site]
        return row


def read_dataset(root: Path, name: str) -> pa.Table:
    """A written analysis dataset as any reader sees it (Hive discovery of ``site``)."""
    table = ds.dataset(root / "curated" / name, format="parquet", partitioning="hive").to_table()
    return table.sort_by([(c, "ascending") for c in ("site", "camera", "zone", "flag")
                          if c in table.column_names])


@pytest.fixture(scope="session")
def planted_template(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return build_lake(tmp_path_factory.mktemp("curated-template"))


@pytest.fixture
def planted(planted_template: Planted, tmp_path: Path) -> Planted:
    """A private copy of the planted lake: tests that write never disturb each other."""
    root = tmp_path / "lake"
    shutil.copytree(planted_template.root, root)
    return replace(planted_template, root=root)


@pytest.fixture(scope="session")
def analysed(
    planted_template: Planted, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Analysed]:
    root = tmp_path_factory.mktemp("analysed") / "lake"
    shutil.copytree(planted_template.root, root)
    p = replace(planted_template, root=root)
    with ThreadPoolExecutor(max_workers=2) as pool:
        summary = run_analysis(root, p.since, p.until, pool, now=p.now)
    yield Analysed(p, summary, read_dataset(root, "analysis_zone_trends"),
                   read_dataset(root, "analysis_camera_health"),
                   read_dataset(root, "analysis_freshness"))
