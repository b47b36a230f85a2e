"""The uploader against a real S3 (SeaweedFS over HTTP) and a real SQLite outbox.

Time is a simulated clock that the uploader's injected ``sleep`` advances, so backoffs,
pacing and pauses cost no real time; the bytes really travel (``tests/support/uplink.py``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from fieldagent.outbox import NewItem
from fieldagent.uplink.s3 import S3Transport
from fieldagent.uplink.uploader import StepResult, Uploader
from tests.support.seaweed import SeaweedS3
from tests.support.uplink import (
    PRIORITY,
    SMALL_PARTS,
    MakeRig,
    S3Factory,
    UplinkRig,
    new_item,
    open_policy,
)

T0 = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)


def item(kind: str, n: int, size: int, when: datetime) -> NewItem:
    return new_item(kind, f"{kind}-{n}", size, when,
                    suffix=".jpg" if kind == "image" else ".json")


@pytest.fixture
def rig(make_rig: MakeRig) -> UplinkRig:
    """No rate caps, no windows: these tests are about order and outcomes, not pacing.
    Payloads over 1 KiB go to spool files, so a test can damage one."""
    return make_rig(open_policy(total_max_bytes="1GB"), start=T0, inline_max=1024)


def uploader(rig: UplinkRig, transport: S3Transport) -> Uploader:
    return rig.uploader(transport, settings=SMALL_PARTS)


def sent(results: list[StepResult]) -> list[StepResult]:
    return [r for r in results if r.action == "sent"]


def test_items_go_most_urgent_first_and_arrive_exactly_once(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    new = [item("image", n, 200_000, T0 + timedelta(seconds=n)) for n in range(3)]
    new += [item("model_report", n, 2_000, T0 + timedelta(seconds=10 + n)) for n in range(2)]
    new += [item("heartbeat", n, 300, T0 + timedelta(seconds=20 + n)) for n in range(2)]
    new += [item("signals", n, 5_000, T0 + timedelta(seconds=30 + n)) for n in range(2)]
    new += [item("alert", n, 700, T0 + timedelta(seconds=40 + n)) for n in range(2)]
    rig.box.put_many(new, now=T0)
    t = make_s3()
    results = uploader(rig, t).run_until_idle()
    order = [r.kind for r in sent(results)]
    assert order == sorted(order, key=PRIORITY.__getitem__)
    assert len(order) == len(new)
    assert t.list("raw/") == sorted(n.key for n in new)
    for n in new:
        assert t.get(n.key) == n.data


def test_an_object_already_there_is_acked_and_not_written_again(
    rig: UplinkRig, make_s3: S3Factory, seaweed_s3: SeaweedS3, bucket: str
) -> None:
    n = item("image", 1, 50_000, T0)
    t = make_s3()
    t.put(n.key, n.data or b"", sha256_hex=hashlib.sha256(n.data or b"").hexdigest())
    before = seaweed_s3.client().head_object(Bucket=bucket, Key=f"site-a/{n.key}")
    rig.box.put(n, now=T0)
    (result,) = sent(uploader(rig, t).run_until_idle())
    assert result.created is False
    after = seaweed_s3.client().head_object(Bucket=bucket, Key=f"site-a/{n.key}")
    assert after["LastModified"] == before["LastModified"] and after["ETag"] == before["ETag"]
    assert rig.box.stats(now=rig.clock.now).by_kind_state["image"]["done"]["items"] == 1


def test_a_corrupt_spool_file_is_refused_clearly_and_the_queue_goes_on(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    new = [item("image", n, 40_000, T0 + timedelta(seconds=n)) for n in range(3)]
    ids = [r.item_id for r in rig.box.put_many(new, now=T0)]
    spool = rig.box.directory / "spool" / f"{ids[0]:012d}.bin"
    data = bytearray(spool.read_bytes())
    data[100] ^= 0xFF  # one flipped byte: a failing SD card
    spool.write_bytes(bytes(data))
    t = make_s3()
    results = uploader(rig, t).run_until_idle()
    assert [r.action for r in results if r.action != "idle"] == ["dropped", "sent", "sent"]
    assert "does not match its recorded sha256" in results[0].detail
    assert [p.kind for p in rig.problems] == ["corrupt"] and new[0].key in rig.problems[0].message
    assert t.list("raw/") == sorted(n.key for n in new[1:])
    assert rig.box.stats(now=rig.clock.now).drops["corrupt"] == 1


def test_a_refused_item_is_given_up_with_a_problem_and_does_not_block_others(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    new = [item("alert", n, 500, T0 + timedelta(seconds=n)) for n in range(3)]
    t = make_s3()
    other = b"a different object already holds this key"
    t.put(new[0].key, other, sha256_hex=hashlib.sha256(other).hexdigest())
    rig.box.put_many(new, now=T0)
    results = uploader(rig, t).run_until_idle()
    assert [r.action for r in results if r.action != "idle"] == ["gave_up", "sent", "sent"]
    assert [p.kind for p in rig.problems] == ["rejected"]
    assert "KeyCollision" in rig.problems[0].message
    assert t.get(new[0].key) == other  # never overwritten
    (dead,) = rig.box.dead_letters()
    assert dead["key"] == new[0].key and "KeyCollision" in dead["error"]


def test_a_refused_setup_pauses_uploads_keeps_items_and_says_so(
    rig: UplinkRig, make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    new = [item("signals", n, 3_000, T0 + timedelta(seconds=n)) for n in range(3)]
    rig.box.put_many(new, now=T0)
    reader = make_s3(credentials=seaweed_s3.reader_credentials)  # may read, not write
    up = uploader(rig, reader)
    first = up.step()
    assert first.action == "paused" and "AccessDenied" in first.detail
    assert up.step().action == "paused"  # nothing is tried while paused
    assert [p.kind for p in rig.problems] == ["misconfigured"]
    stats = rig.box.stats(now=rig.clock.now)
    assert stats.by_kind_state["signals"]["ready"]["items"] == 3 and sum(stats.drops.values()) == 0

    fixed = make_s3()  # the technician fixed the credentials; the agent restarts
    assert len(sent(uploader(rig, fixed).run_until_idle())) == 3
