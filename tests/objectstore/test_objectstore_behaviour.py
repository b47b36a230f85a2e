"""One behaviour suite for the seam's promises, on both sides and both kinds of store.

The device's transports (``fieldagent.uplink``) and the cloud's stores (``cloudjobs.store``)
share the key rule and the create-only write (``objectstore``); each is run here against a
local folder and a real S3 server (SeaweedFS): racing writers have exactly one winner, a
second write reports "already there" and never replaces, and unsafe keys are refused.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudjobs.store import LocalStore, ObjectStore, S3Store
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Transport
from tests.support.seaweed import SeaweedS3


@dataclass(frozen=True)
class Side:
    """One store seen through the two operations every side has: create-only, and read."""

    create: Callable[[str, bytes], bool]
    get: Callable[[str], bytes]


def device(transport: Transport) -> Side:
    def create(key: str, data: bytes) -> bool:
        return transport.put(key, data, sha256_hex=hashlib.sha256(data).hexdigest()).created

    return Side(create, transport.get)


def cloud(store: ObjectStore) -> Side:
    return Side(lambda key, data: store.put(key, data, create_only=True), store.get)


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


def _bucket(seaweed: SeaweedS3) -> str:
    return seaweed.create_bucket(f"seam-{uuid.uuid4().hex[:12]}")


def _device_s3(seaweed: SeaweedS3) -> Side:
    client = make_client(S3Options(seaweed.endpoint_url), seaweed.credentials)
    return device(S3Transport(client, _bucket(seaweed), "p"))


def _cloud_s3(seaweed: SeaweedS3) -> Side:
    return cloud(S3Store(_bucket(seaweed), "p", endpoint_url=seaweed.endpoint_url,
                         credentials=seaweed.credentials))


@pytest.fixture(params=["device-folder", "device-s3", "cloud-folder", "cloud-s3"])
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Side:
    if request.param == "device-folder":
        return device(LocalTransport(_folder(tmp_path)))
    if request.param == "cloud-folder":
        return cloud(LocalStore(_folder(tmp_path)))
    seaweed: SeaweedS3 = request.getfixturevalue("seaweed_s3")
    return _device_s3(seaweed) if request.param == "device-s3" else _cloud_s3(seaweed)


def test_of_two_racing_writers_exactly_one_wins(side: Side) -> None:
    """Both write the same content-derived key: one creates it, the other finds it there."""
    wins: list[bool] = []
    barrier = threading.Barrier(2)

    def writer() -> None:
        barrier.wait()
        wins.append(side.create("race/1.json", b"same bytes"))

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, True]
    assert side.get("race/1.json") == b"same bytes"


def test_a_second_write_reports_already_there(side: Side) -> None:
    assert side.create("raw/x/1.json", b"first") is True
    assert side.create("raw/x/1.json", b"first") is False
    assert side.get("raw/x/1.json") == b"first"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".tmp/x", "a/.meta", "a b"])
def test_unsafe_keys_are_refused(side: Side, key: str) -> None:
    with pytest.raises(ValueError, match="not a safe relative key"):
        side.create(key, b"x")
