"""Shared fixtures: one generated lake and one full report per session (matplotlib is slow)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudjobs.report import Report, build_report
from tests.cloudjobs_report.lakegen import NOW, Lake, build_lake
from tests.support.seaweed import SeaweedS3, run_seaweed


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The planted lake; read-only for tests (copy it or build another to change it)."""
    return build_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="session")
def report(lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The report over every site, default window, written once."""
    return build_report(lake.root, tmp_path_factory.mktemp("report"), clock=lambda: NOW)


@pytest.fixture(scope="session")
def seaweed_s3() -> Iterator[SeaweedS3]:
    """A real S3 server on loopback for this folder's S3 test."""
    with run_seaweed() as server:
        yield server

