"""Where per-site work runs: local processes by default, a Dask cluster when one is named.

Every job is written against ``concurrent.futures.Executor`` (``map`` over sites of a
top-level function with picklable arguments), so the same code runs in a process pool on
one machine or on a Dask cluster through ``distributed``'s executor facade. Processes are
started with ``spawn``: no state leaks from the parent (open boto3 clients, threads, locks
held at fork time), and the job behaves the same on Linux, macOS and a Dask worker.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from fieldagent.errors import FieldAgentError

log = logging.getLogger(__name__)


class ExecutorError(FieldAgentError):
    """The workers could not be started or reached."""


def default_workers() -> int:
    """One worker per core, at most 8: per-site work is mostly I/O plus Parquet encoding."""
    return max(1, min(8, os.cpu_count() or 1))


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--scheduler``/``--workers`` options of the per-site jobs."""
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:8786); default: local processes")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"local worker processes (default {default_workers()})")


@contextmanager
def make_executor(
    scheduler: str | None = None, workers: int | None = None, *, connect_timeout: float = 20.0
) -> Iterator[Executor]:
    """An executor for the duration of the block.

    Parameters
    ----------
    scheduler
        ``None``: a ``ProcessPoolExecutor`` (spawned processes). Otherwise the address of a
        Dask scheduler (``tcp://host:8786``, or an in-process ``inproc://`` address): work
        goes to that cluster through ``distributed.Client(address).get_executor()``.
    workers
        Processes of the local pool (default: ``default_workers()``). With a scheduler the
        cluster decides; the value is ignored.
    connect_timeout
        Seconds to wait for the scheduler before giving up with ``ExecutorError``.
    """
    if scheduler is None:
        count = default_workers() if workers is None else workers
        if count < 1:
            raise ExecutorError(f"--workers must be at least 1, got {count}")
        pool = ProcessPoolExecutor(max_workers=count,
                                   mp_context=multiprocessing.get_context("spawn"))
        with pool:
            yield pool
        return
    with _dask_client(scheduler, connect_timeout) as client:
        yield client.get_executor()


@contextmanager
def _dask_client(address: str, timeout: float) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError as exc:  # the cloud extra brings it; say so instead of a traceback
        raise ExecutorError(f"--scheduler needs dask.distributed ({exc}): "
                            "pip install 'dask[distributed]'") from exc
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(f"cannot reach the Dask scheduler at {address} ({exc}): check the "
                            "address and that the scheduler is running") from exc
    log.info("running on the Dask cluster at %s", address)
    try:
        yield client
    finally:
        client.close()
