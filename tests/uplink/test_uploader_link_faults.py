"""A bad link and a grumpy server: everything still arrives, once, most urgent first.

* ``PoorLink`` (a throttling TCP proxy in front of real SeaweedFS) cuts connections
  mid-transfer, goes silent (the read timeout fires) and refuses connections for a while
  (the circuit breaker opens, then one probe closes it).
* ``FaultyS3`` (moto's S3 behind a fault injector) answers with 500, 503 SlowDown and
  503 ServiceUnavailable.

Time is fake (the uploader's ``sleep`` advances it), so backoffs and breaker cool-downs
cost nothing; only the transfers and the short read timeouts take real time.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.policy import Policy
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.breaker import CircuitBreaker
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Timeouts, Transport
from fieldagent.uplink.uploader import StepResult, Uploader, UploaderSettings
from fieldcontract.keys import object_key
from tests.support.motoserver import FaultyS3
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3

S3Factory = Callable[..., S3Transport]
T0 = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
MIB = 1 << 20
PRIORITY = {"alert": 0, "signals": 1, "heartbeat": 2, "model_report": 3, "image": 4}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def policy() -> Policy:
    return validate_policy({"classes": {"image": {"windows": []}}}, "test")


def new_item(kind: str, n: int, size: int) -> NewItem:
    body = (hashlib.sha256(f"{kind}{n}".encode()).digest() * (size // 32 + 1))[:size]
    when = T0 + timedelta(seconds=n)
    key = object_key(kind, "gh-1", when, hashlib.sha256(body).hexdigest(), suffix=".bin")
    return NewItem(kind, key, PRIORITY[kind], when, data=body)


def backlog(big_image: bool) -> list[NewItem]:
    items = [new_item("image", n, 300_000) for n in range(2)]
    if big_image:
        items.append(new_item("image", 2, 11 * MIB))
    items += [new_item("heartbeat", n, 400) for n in range(3)]
    items += [new_item("signals", n, 20_000) for n in range(4)]
    items += [new_item("alert", n, 900) for n in range(4)]
    return items


@pytest.fixture
def box(tmp_path: Path) -> Iterator[SqliteOutbox]:
    outbox = SqliteOutbox(tmp_path / "outbox", limits=policy().outbox_limits(), clock=lambda: T0)
    yield outbox
    outbox.close()


def uploader(box: SqliteOutbox, transport: Transport, clock: Clock) -> Uploader:
    breaker = CircuitBreaker("test", failure_threshold=3, clock=clock)
    return Uploader(box, transport, policy(), site="gh-1", clock=clock, sleep=clock.sleep,
                    breaker=breaker, settings=UploaderSettings(
                        part_size=5 * MIB, multipart_threshold=5 * MIB))


def check_delivered(results: list[StepResult], items: list[NewItem], t: Transport) -> None:
    """Each item arrived once with its bytes, and in priority order."""
    sent = [r for r in results if r.action == "sent"]
    assert sorted(r.key or "" for r in sent) == sorted(i.key for i in items)
    order = [PRIORITY[r.kind or ""] for r in sent]
    assert order == sorted(order), f"sent out of priority order: {[r.kind for r in sent]}"
    assert t.list("raw/") == sorted(i.key for i in items)
    for i in items:
        assert t.get(i.key) == i.data


def test_cuts_stalls_and_refusals_on_a_throttled_link(
    box: SqliteOutbox, make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    items = backlog(big_image=True)
    box.put_many(items, now=T0)
    clock = Clock()
    results: list[StepResult] = []
    with PoorLink(("127.0.0.1", seaweed_s3.port), rate=8 * MIB, max_lifetime=240) as link:
        t = make_s3(endpoint_url=link.url, read_timeout=1.5)
        up = uploader(box, t, clock)
        link.cut_after(5_000)  # the first alert's connection drops mid-request
        results.append(up.step())
        link.stall = True  # the link goes silent: the read timeout fires
        results.append(up.step())
        link.stall = False
        link.refuse_new = True  # the link is down for a while: the breaker opens
        link.cut_all()
        for _ in range(6):
            results.append(up.step())
            clock.sleep(results[-1].wait_s)
        assert "link_down" in [r.action for r in results]
        link.refuse_new = False
        link.cut_after(7 * MIB)  # and one cut in the middle of the big image
        results += up.run_until_idle()
    assert {"retry", "link_down"} <= {r.action for r in results}
    check_delivered(results, items, make_s3())


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyS3]:
    with FaultyS3() as server:
        yield server


def test_5xx_and_slowdown_answers_are_retried_until_everything_arrives(
    box: SqliteOutbox, faulty: FaultyS3
) -> None:
    options = S3Options(faulty.endpoint_url, timeouts=Timeouts(connect=2, read=5))
    client: Any = make_client(options, faulty.credentials)
    bucket = f"f-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    t = S3Transport(client, bucket, "site-b")
    items = backlog(big_image=False)
    box.put_many(items, now=T0)
    faulty.inject(503, "SlowDown", method="PUT", times=4)
    faulty.inject(500, "InternalError", method="PUT", times=3)
    faulty.inject(503, "ServiceUnavailable", method="PUT", times=2)
    clock = Clock()
    try:
        results = uploader(box, t, clock).run_until_idle()
    finally:
        hits = list(faulty.injector.hits)
        faulty.clear()
    assert len(hits) == 9
    check_delivered(results, items, t)
