"""Per-site work runs the same inline, in spawned processes and on a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cloudjobs.executor import ExecutorError, make_executor
from cloudjobs.lake import layout
from cloudjobs.lake.ingest import SiteReport, run_ingest
from cloudjobs.store import LocalStore
from tests.cloudjobs_lake.conftest import NOW
from tests.cloudjobs_lake.helpers import rows
from tests.cloudjobs_lake.rawlake import make_raw_lake


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """An in-process Dask cluster (threads, no dashboard, no network beyond this process)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def summary(reports: list[SiteReport]) -> list[tuple[str, int, int, dict[str, int]]]:
    return [(r.site, r.ingested, len(r.rejected), r.rows) for r in reports]


def test_process_pool_and_dask_build_the_same_lake_as_inline(
    new_local_store: Callable[[str], LocalStore], dask_scheduler: str
) -> None:
    stores = {name: new_local_store(name) for name in ("inline", "processes", "dask")}
    for store in stores.values():
        make_raw_lake(store)
    inline = run_ingest(stores["inline"], now=NOW)
    with make_executor(None, 2) as pool:
        in_processes = run_ingest(stores["processes"], executor=pool, now=NOW)
    with make_executor(dask_scheduler) as cluster:
        on_dask = run_ingest(stores["dask"], executor=cluster, now=NOW)
    assert summary(inline) == summary(in_processes) == summary(on_dask)
    assert [r.site for r in inline] == ["east", "north", "south"]
    for dataset in layout.DATASETS:
        reference = rows(stores["inline"], dataset)
        assert reference
        assert rows(stores["processes"], dataset) == reference
        assert rows(stores["dask"], dataset) == reference


def test_unreachable_scheduler_is_reported() -> None:
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"), \
            make_executor("tcp://127.0.0.1:9", connect_timeout=1.0):
        pass


def test_workers_must_be_positive() -> None:
    with pytest.raises(ExecutorError, match="at least 1"), make_executor(None, 0):
        pass
