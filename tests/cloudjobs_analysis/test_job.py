"""The job: idempotent write-back, identical results on every executor, clear input errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from cloudjobs.analysis import run_analysis
from cloudjobs.analysis.errors import AnalysisInputError
from cloudjobs.analysis.schemas import DATASETS, with_site
from cloudjobs.executor import make_executor
from cloudjobs.lake.errors import LakeError
from cloudjobs.store import LocalStore
from tests.cloudjobs_analysis.conftest import read_dataset
from tests.cloudjobs_analysis.curated import Planted


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "curated").glob("analysis_*/*/*"))


def _tables(root: Path) -> dict[str, pa.Table]:
    return {name: read_dataset(root, name) for name in DATASETS}


def test_running_the_same_window_twice_replaces(planted: Planted) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now)
        files, tables = _files(planted.root), _tables(planted.root)
        second = run_analysis(planted.root, planted.since, planted.until, pool,
                              now=planted.now + timedelta(hours=1))
    assert first.rows == second.rows
    assert files == _files(planted.root) and len(files) == 3 * 4
    again = _tables(planted.root)
    for name, table in tables.items():
        assert again[name].num_rows == table.num_rows == first.rows[name] > 0
    assert set(again["analysis_freshness"].column("computed_at").to_pylist()) == {
        planted.now + timedelta(hours=1)}


def test_another_window_adds_its_own_files(planted: Planted) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now)
        before = _files(planted.root)
        run_analysis(planted.root, planted.since - timedelta(days=7),
                     planted.until - timedelta(days=7), pool, now=planted.now)
    after = _files(planted.root)
    assert set(before) < set(after) and len(after) == 2 * len(before)
    ends = set(read_dataset(planted.root, "analysis_zone_trends").column("window_end").to_pylist())
    assert ends == {planted.until, planted.until - timedelta(days=7)}


def test_a_site_without_rows_loses_its_stale_file(planted: Planted) -> None:
    """Re-running after a site's data went away must not leave the old rows behind."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now)
        for dataset in ("signals", "quality"):
            shutil.rmtree(planted.root / "curated" / dataset / "site=west")
        run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now)
    trends = read_dataset(planted.root, "analysis_zone_trends")
    assert "west" not in trends.column("site").to_pylist()
    assert trends.num_rows == 12
    fresh = read_dataset(planted.root, "analysis_freshness").to_pylist()
    west = next(r for r in fresh if r["site"] == "west")
    assert west["last_signal_ts"] is None and west["last_heartbeat_at"] is not None


@contextmanager
def _threads() -> Iterator[Executor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


@contextmanager
def _processes() -> Iterator[Executor]:
    with make_executor(None, workers=2) as pool:
        yield pool


@contextmanager
def _dask() -> Iterator[Executor]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client.get_executor()


def test_every_executor_gives_identical_results(planted: Planted) -> None:
    variants: list[Callable[[], AbstractContextManager[Executor]]] = [
        _threads, _processes, _dask]
    results = []
    for make in variants:
        with make() as executor:
            run_analysis(planted.root, planted.since, planted.until, executor, now=planted.now)
        results.append(_tables(planted.root))
    for other in results[1:]:
        for name in DATASETS:
            assert other[name].equals(results[0][name]), name


def test_written_files_have_the_documented_schema(planted: Planted) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now)
    for name, schema in DATASETS.items():
        table = read_dataset(planted.root, name)
        expected = with_site(schema)
        assert {f.name: f.type for f in table.schema} == {f.name: f.type for f in expected}


def test_a_store_object_is_accepted(planted: Planted) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        summary = run_analysis(LocalStore(planted.root), planted.since, planted.until, pool,
                               now=planted.now)
    assert summary.sites == ("east", "north", "south", "west")
    assert all(Path(f).is_file() for f in summary.files)


def test_summary_reads_as_a_report(planted: Planted) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        summary = run_analysis(planted.root, planted.since, planted.until, pool, now=planted.now)
    text = "\n".join(summary.lines())
    assert "analysed 4 sites, 2024-06-15 .. 2024-06-28" in text
    assert "zones getting worse: 1" in text and "north/cam1/bench-a" in text
    assert "sites not fresh: 1" in text and "east: silent" in text


def test_bad_inputs_are_refused_with_a_sentence(planted: Planted, tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(AnalysisInputError, match="before it starts"):
            run_analysis(planted.root, planted.until, planted.since, pool, now=planted.now)
        with pytest.raises(LakeError, match="does not exist"):
            run_analysis(tmp_path / "nowhere", planted.since, planted.until, pool,
                         now=planted.now)
        (tmp_path / "empty").mkdir()
        with pytest.raises(LakeError, match="cloudjobs ingest"):
            run_analysis(tmp_path / "empty", planted.since, planted.until, pool,
                         now=planted.now)

