"""The uploader against a real S3 (SeaweedFS over HTTP) and a real SQLite outbox.

Time is a fake clock that the uploader's injected ``sleep`` advances, so backoffs, pacing
and pauses cost no real time; the bytes really travel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.policy import Policy
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.s3 import S3Transport
from fieldagent.uplink.uploader import StepResult, UplinkProblem, Uploader, UploaderSettings
from fieldcontract.keys import object_key
from tests.support.seaweed import SeaweedS3

S3Factory = Callable[..., S3Transport]
T0 = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
PRIORITY = {"alert": 0, "signals": 1, "heartbeat": 2, "model_report": 3, "image": 4}


class Clock:
    """Fake time; ``sleep`` advances it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def open_policy() -> Policy:
    """No rate caps, no windows: these tests are about order and outcomes, not pacing."""
    return validate_policy({"link": {"total_max_bytes": "1GB"},
                            "classes": {"image": {"windows": []}}}, "test")


def item(kind: str, n: int, size: int, when: datetime) -> NewItem:
    body = hashlib.sha256(f"{kind}-{n}".encode()).digest() * (size // 32 + 1)
    body = body[:size]
    digest = hashlib.sha256(body).hexdigest()
    suffix = ".jpg" if kind == "image" else ".json"
    key = object_key(kind.replace("_", "-"), "gh-1", when, digest, suffix=suffix)
    return NewItem(kind, key, PRIORITY[kind], when, data=body)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[SqliteOutbox]:
    outbox = SqliteOutbox(tmp_path / "outbox", limits=open_policy().outbox_limits(),
                          clock=lambda: T0, inline_max=1024)
    yield outbox
    outbox.close()


def uploader(box: SqliteOutbox, transport: S3Transport, clock: Clock,
             problems: list[UplinkProblem] | None = None) -> Uploader:
    return Uploader(
        box, transport, open_policy(), site="gh-1", clock=clock, sleep=clock.sleep,
        on_problem=(problems.append if problems is not None else None),
        settings=UploaderSettings(part_size=5 << 20, multipart_threshold=5 << 20),
    )


def sent(results: list[StepResult]) -> list[StepResult]:
    return [r for r in results if r.action == "sent"]


def test_items_go_most_urgent_first_and_arrive_exactly_once(
    box: SqliteOutbox, make_s3: S3Factory
) -> None:
    clock = Clock()
    new = [item("image", n, 200_000, T0 + timedelta(seconds=n)) for n in range(3)]
    new += [item("model_report", n, 2_000, T0 + timedelta(seconds=10 + n)) for n in range(2)]
    new += [item("heartbeat", n, 300, T0 + timedelta(seconds=20 + n)) for n in range(2)]
    new += [item("signals", n, 5_000, T0 + timedelta(seconds=30 + n)) for n in range(2)]
    new += [item("alert", n, 700, T0 + timedelta(seconds=40 + n)) for n in range(2)]
    box.put_many(new, now=T0)
    t = make_s3()
    results = uploader(box, t, clock).run_until_idle()
    order = [r.kind for r in sent(results)]
    assert order == sorted(order, key=PRIORITY.__getitem__)
    assert len(order) == len(new)
    assert t.list("raw/") == sorted(n.key for n in new)
    for n in new:
        assert t.get(n.key) == n.data


def test_an_object_already_there_is_acked_and_not_written_again(
    box: SqliteOutbox, make_s3: S3Factory, seaweed_s3: SeaweedS3, bucket: str
) -> None:
    clock = Clock()
    n = item("image", 1, 50_000, T0)
    t = make_s3()
    t.put(n.key, n.data or b"", sha256_hex=hashlib.sha256(n.data or b"").hexdigest())
    before = seaweed_s3.client().head_object(Bucket=bucket, Key=f"site-a/{n.key}")
    box.put(n, now=T0)
    (result,) = sent(uploader(box, t, clock).run_until_idle())
    assert result.created is False
    after = seaweed_s3.client().head_object(Bucket=bucket, Key=f"site-a/{n.key}")
    assert after["LastModified"] == before["LastModified"] and after["ETag"] == before["ETag"]
    assert box.stats(now=clock.now).by_kind_state["image"]["done"]["items"] == 1


def test_a_corrupt_spool_file_is_refused_clearly_and_the_queue_goes_on(
    box: SqliteOutbox, make_s3: S3Factory, tmp_path: Path
) -> None:
    clock = Clock()
    new = [item("image", n, 40_000, T0 + timedelta(seconds=n)) for n in range(3)]
    ids = [r.item_id for r in box.put_many(new, now=T0)]
    spool = tmp_path / "outbox" / "spool" / f"{ids[0]:012d}.bin"
    data = bytearray(spool.read_bytes())
    data[100] ^= 0xFF  # one flipped byte: a failing SD card
    spool.write_bytes(bytes(data))
    problems: list[UplinkProblem] = []
    t = make_s3()
    results = uploader(box, t, clock, problems).run_until_idle()
    assert [r.action for r in results if r.action != "idle"] == ["dropped", "sent", "sent"]
    assert "does not match its recorded sha256" in results[0].detail
    assert [p.kind for p in problems] == ["corrupt"] and new[0].key in problems[0].message
    assert t.list("raw/") == sorted(n.key for n in new[1:])
    assert box.stats(now=clock.now).drops["corrupt"] == 1


def test_a_refused_item_is_given_up_with_a_problem_and_does_not_block_others(
    box: SqliteOutbox, make_s3: S3Factory
) -> None:
    clock = Clock()
    new = [item("alert", n, 500, T0 + timedelta(seconds=n)) for n in range(3)]
    t = make_s3()
    other = b"a different object already holds this key"
    t.put(new[0].key, other, sha256_hex=hashlib.sha256(other).hexdigest())
    box.put_many(new, now=T0)
    problems: list[UplinkProblem] = []
    results = uploader(box, t, clock, problems).run_until_idle()
    assert [r.action for r in results if r.action != "idle"] == ["gave_up", "sent", "sent"]
    assert [p.kind for p in problems] == ["rejected"] and "KeyCollision" in problems[0].message
    assert t.get(new[0].key) == other  # never overwritten
    (dead,) = box.dead_letters()
    assert dead["key"] == new[0].key and "KeyCollision" in dead["error"]


def test_a_refused_setup_pauses_uploads_keeps_items_and_says_so(
    box: SqliteOutbox, make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    clock = Clock()
    new = [item("signals", n, 3_000, T0 + timedelta(seconds=n)) for n in range(3)]
    box.put_many(new, now=T0)
    problems: list[UplinkProblem] = []
    reader = make_s3(credentials=seaweed_s3.reader_credentials)  # may read, not write
    up = uploader(box, reader, clock, problems)
    first = up.step()
    assert first.action == "paused" and "AccessDenied" in first.detail
    assert up.step().action == "paused"  # nothing is tried while paused
    assert [p.kind for p in problems] == ["misconfigured"]
    stats = box.stats(now=clock.now)
    assert stats.by_kind_state["signals"]["ready"]["items"] == 3 and sum(stats.drops.values()) == 0

    fixed = make_s3()  # the technician fixed the credentials; the agent restarts
    assert len(sent(uploader(box, fixed, clock).run_until_idle())) == 3
