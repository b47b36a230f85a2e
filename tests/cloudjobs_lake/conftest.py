"""Fixtures for the lake tests: local stores, a real SeaweedFS, and one ingested raw lake."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudjobs.lake.ingest import run_ingest
from cloudjobs.store import LocalStore, S3Store
from tests.cloudjobs_lake.rawlake import RawLake, make_raw_lake
from tests.support.seaweed import SeaweedS3, run_seaweed

NOW = datetime(2024, 5, 8, 6, 0, tzinfo=UTC)
"""The runs' clock: the morning after the generated lake's last day."""


@pytest.fixture(scope="session")
def seaweed_s3() -> Iterator[SeaweedS3]:
    """A real S3 server on loopback for the whole session (one per xdist worker)."""
    with run_seaweed() as server:
        yield server


@pytest.fixture
def s3_store(seaweed_s3: SeaweedS3) -> S3Store:
    """A store under a prefix of a fresh bucket on the session's SeaweedFS."""
    bucket = seaweed_s3.create_bucket(f"lake-{uuid.uuid4().hex[:12]}")
    return S3Store(bucket, "lake", endpoint_url=seaweed_s3.endpoint_url,
                   region=seaweed_s3.region, credentials=seaweed_s3.credentials)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    root = tmp_path / "lake"
    root.mkdir()
    return LocalStore(root)


@pytest.fixture
def new_local_store(tmp_path: Path) -> Callable[[str], LocalStore]:
    """More local stores in the test's folder, by name."""

    def make(name: str) -> LocalStore:
        root = tmp_path / name
        root.mkdir()
        return LocalStore(root)

    return make


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStore, RawLake]:
    """The generated raw lake, ingested once; tests must only read it."""
    store = LocalStore(tmp_path_factory.mktemp("ingested"))
    truth = make_raw_lake(store)
    reports = run_ingest(store, now=NOW)
    assert not any(r.error for r in reports), reports
    return store, truth
