"""The S3 transport over a bad link: throttled, cut mid-upload, stalled, refused.

Real SeaweedFS behind ``PoorLink``, a throttling TCP proxy on loopback. Timeouts are short
so a stalled link costs the suite a second or two, not a minute.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fieldagent.uplink.breaker import BreakerState, CircuitBreaker
from fieldagent.uplink.errors import CircuitOpen, UplinkUnavailable
from fieldagent.uplink.retry import RetryPolicy, retrying
from tests.support.clock import SimClock
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3
from tests.support.uplink import S3Factory

KIB = 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def link(seaweed_s3: SeaweedS3) -> Iterator[PoorLink]:
    with PoorLink(("127.0.0.1", seaweed_s3.port), max_lifetime=60) as proxy:
        yield proxy


def no_sleep(seconds: float) -> None:
    """Retries in these tests need no wait: the proxy's state, not time, decides."""


def test_a_throttled_link_still_delivers(make_s3: S3Factory, link: PoorLink) -> None:
    link.set_rate(200 * KIB)
    link.latency = 0.02
    body = bytes(range(256)) * 640  # 160 KiB: about 0.8 s at 200 KiB/s
    t = make_s3(endpoint_url=link.url)
    started = time.monotonic()
    assert t.put("k/slow.jpg", body, sha256_hex=sha(body)).created
    assert time.monotonic() - started > 0.6  # the throttle really was in the way
    link.set_rate(None)
    assert t.get("k/slow.jpg") == body


def test_a_cut_mid_upload_is_retried_and_the_object_is_whole_once(
    make_s3: S3Factory, link: PoorLink
) -> None:
    link.set_rate(1024 * KIB)
    body = bytes(range(256)) * 4096  # 1 MiB
    t = make_s3(endpoint_url=link.url)
    link.cut_after(300 * KIB)
    with pytest.raises(UplinkUnavailable):
        t.put("k/cut.jpg", body, sha256_hex=sha(body))
    assert link.cut_events >= 1 and not t.exists("k/cut.jpg")

    link.cut_after(300 * KIB)  # the first retry is cut too; the second gets through
    out = retrying(
        lambda: t.put("k/cut.jpg", body, sha256_hex=sha(body)),
        policy=RetryPolicy(max_attempts=3),
        sleep=no_sleep,
    )
    assert out.created
    link.set_rate(None)
    assert t.get("k/cut.jpg") == body
    assert t.list("k/") == ["k/cut.jpg"]


def test_a_part_cut_mid_upload_is_resent_and_the_multipart_completes(
    make_s3: S3Factory, link: PoorLink
) -> None:
    parts_data = [b"a" * (5 * 1024 * KIB), b"b" * (300 * KIB)]
    t = make_s3(endpoint_url=link.url)
    upload = t.begin_multipart("k/multi.bin", content_type="application/octet-stream")
    first = t.put_part("k/multi.bin", upload, 1, parts_data[0])
    link.cut_after(100 * KIB)
    with pytest.raises(UplinkUnavailable):
        t.put_part("k/multi.bin", upload, 2, parts_data[1])
    second = retrying(lambda: t.put_part("k/multi.bin", upload, 2, parts_data[1]), sleep=no_sleep)
    assert t.complete_multipart("k/multi.bin", upload, [first, second]).created
    assert t.get("k/multi.bin") == b"".join(parts_data)


def test_a_stalled_link_times_out_as_unavailable(make_s3: S3Factory, link: PoorLink) -> None:
    t = make_s3(endpoint_url=link.url, read_timeout=1.0)
    assert not t.exists("k/warm-up")  # a live pooled connection, then the link goes silent
    link.stall = True
    started = time.monotonic()
    with pytest.raises(UplinkUnavailable, match=r"(?i)timeout"):
        t.put("k/stalled.bin", b"x" * 1000, sha256_hex=sha(b"x" * 1000))
    assert time.monotonic() - started < 5


def test_refused_connections_are_unavailable(make_s3: S3Factory, link: PoorLink) -> None:
    t = make_s3(endpoint_url=link.url, read_timeout=2.0)
    link.refuse_new = True
    link.cut_all()  # no pooled connection left: the next request needs a new one
    with pytest.raises(UplinkUnavailable):
        t.exists("k/x")
    link.refuse_new = False
    assert not t.exists("k/x")


def test_the_breaker_opens_on_a_dead_link_and_closes_after_a_probe(
    make_s3: S3Factory, link: PoorLink
) -> None:
    clock = SimClock(datetime(2026, 5, 1, 6, 0, tzinfo=UTC))
    breaker = CircuitBreaker(
        "s3", failure_threshold=3, cool_down=timedelta(seconds=30), clock=clock
    )
    t = make_s3(endpoint_url=link.url, read_timeout=2.0)
    link.refuse_new = True
    link.cut_all()
    for _ in range(3):
        with pytest.raises(UplinkUnavailable):
            breaker.call(lambda: t.exists("k/x"))
    assert breaker.status().state is BreakerState.OPEN
    tried = link.accepted
    with pytest.raises(CircuitOpen) as err:
        breaker.call(lambda: t.exists("k/x"))
    assert link.accepted == tried  # refused without touching the link
    assert err.value.down_since == clock.now and "down since" in str(err.value)

    link.refuse_new = False
    clock.now += timedelta(seconds=30)
    assert breaker.call(lambda: t.exists("k/x")) is False  # the one probe
    assert breaker.status().state is BreakerState.CLOSED
