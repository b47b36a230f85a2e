"""Fixtures for the uplink tests: one real SeaweedFS per test session, fresh buckets per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Timeouts
from tests.support.seaweed import SeaweedS3, run_seaweed
from tests.support.uplink import S3Factory


@pytest.fixture(scope="session")
def seaweed_s3() -> Iterator[SeaweedS3]:
    """A real S3 server on loopback for the whole session (one per xdist worker)."""
    with run_seaweed() as server:
        yield server


@pytest.fixture
def bucket(seaweed_s3: SeaweedS3) -> str:
    """A fresh, empty bucket on the session's SeaweedFS."""
    return seaweed_s3.create_bucket(f"t-{uuid.uuid4().hex[:16]}")


_ClientKey = tuple[str, str, str, float]


@pytest.fixture(scope="session")
def s3_clients() -> dict[_ClientKey, Any]:
    """boto3 clients by endpoint, credentials and timeout: building one costs ~0.5 s."""
    return {}


@pytest.fixture
def make_s3(seaweed_s3: SeaweedS3, bucket: str, s3_clients: dict[_ClientKey, Any]) -> S3Factory:
    """Build an S3Transport on ``bucket`` (or another), optionally through a proxy URL.

    Each call is a new transport instance, as after a restart. The transport keeps no state
    of its own, so sharing the underlying boto3 client changes nothing but the run time.
    """

    def make(
        *,
        endpoint_url: str | None = None,
        target: str | None = None,
        credentials: dict[str, str] | None = None,
        read_timeout: float = 10.0,
    ) -> S3Transport:
        endpoint = endpoint_url or seaweed_s3.endpoint_url
        creds = credentials or seaweed_s3.credentials
        ck = (endpoint, creds["access_key_id"], creds["secret_access_key"], read_timeout)
        if ck not in s3_clients:
            timeouts = Timeouts(connect=2.0, read=read_timeout)
            s3_clients[ck] = make_client(S3Options(endpoint, timeouts=timeouts), creds)
        parts = urlsplit(target or f"s3://{bucket}/site-a")
        return S3Transport(s3_clients[ck], parts.netloc, parts.path)

    return make
