"""Fixtures for the end-to-end uplink tests: a real SeaweedFS for the session, a bucket each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.seaweed import SeaweedS3, run_seaweed


@pytest.fixture(scope="session")
def e2e_s3() -> Iterator[SeaweedS3]:
    """A real S3 server on loopback, shared by this folder's tests (one per xdist worker)."""
    with run_seaweed() as server:
        yield server


@pytest.fixture
def e2e_bucket(e2e_s3: SeaweedS3) -> str:
    return e2e_s3.create_bucket(f"e2e-{uuid.uuid4().hex[:16]}")
