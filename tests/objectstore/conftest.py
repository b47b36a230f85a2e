"""Fixtures for the seam's behaviour suite: one real SeaweedFS per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.seaweed import SeaweedS3, run_seaweed


@pytest.fixture(scope="session")
def seaweed_s3() -> Iterator[SeaweedS3]:
    """A real S3 server on loopback for the whole session (one per xdist worker)."""
    with run_seaweed() as server:
        yield server
