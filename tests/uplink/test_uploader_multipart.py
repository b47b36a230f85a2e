"""Large payloads: one part per step, preempted by alerts, resumed instead of restarted.

Real SeaweedFS over HTTP; its minimum part size is 5 MiB, so the image is 11 MiB in three
parts (5 + 5 + 1 MiB). A "restart" is a new outbox object and a new uploader on the same
files, exactly what a new process would have.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from fieldagent.outbox import Item, NewItem, SqliteOutbox
from fieldagent.uplink.multipart import Progress
from fieldagent.uplink.s3 import S3Transport
from fieldagent.uplink.uploader import StepResult, Uploader
from fieldcontract.keys import object_key
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3
from tests.support.uplink import (
    MIB,
    SMALL_PARTS,
    MakeRig,
    S3Factory,
    UplinkRig,
    blob,
    open_policy,
)

T0 = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
IMAGE = blob("frame", 11 * MIB)
IMAGE_KEY = object_key("image", "gh-1", T0, hashlib.sha256(IMAGE).hexdigest(), suffix=".jpg")


@pytest.fixture
def rig(make_rig: MakeRig) -> UplinkRig:
    """An outbox holding one 11 MiB image."""
    rig = make_rig(open_policy(), start=T0)
    rig.box.put(NewItem("image", IMAGE_KEY, 4, T0, data=IMAGE), now=T0)
    return rig


def uploader(rig: UplinkRig, transport: S3Transport) -> Uploader:
    return rig.uploader(transport, settings=SMALL_PARTS)


def parts_sent(results: list[StepResult]) -> list[int | None]:
    """Numbers of the parts that went over the wire (the last one is in the 'sent' step)."""
    return [r.part for r in results if r.action in ("part", "sent") and r.kind == "image"]


def saved_progress(box: SqliteOutbox) -> tuple[Item, Progress]:
    (item,) = box.lease(now=T0, kinds=["image"], limit=1)
    box.release(item.id)
    return item, Progress.load(item.progress)


def test_an_alert_enqueued_mid_upload_goes_after_at_most_one_more_part(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    t = make_s3()
    up = uploader(rig, t)
    assert up.step().part == 1
    alert = b'{"rule":"b-yellowing","zone":"B-3","state":"raised"}'
    alert_key = object_key("alert", "gh-1", T0, hashlib.sha256(alert).hexdigest(), suffix=".json")
    rig.box.put(NewItem("alert", alert_key, 0, rig.clock.now, data=alert), now=rig.clock.now)
    nxt = up.step()
    assert (nxt.action, nxt.kind) == ("sent", "alert")
    rest = up.run_until_idle()
    assert parts_sent(rest) == [2, 3]  # resumed at part 2: part 1 was not sent again
    assert t.get(IMAGE_KEY) == IMAGE and t.get(alert_key) == alert


def test_a_cut_link_costs_only_the_part_in_flight(
    rig: UplinkRig, make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    with PoorLink(("127.0.0.1", seaweed_s3.port), max_lifetime=120) as link:
        t = make_s3(endpoint_url=link.url, read_timeout=20.0)
        up = uploader(rig, t)
        assert up.step().part == 1
        link.cut_after(2 * MIB)  # the link drops in the middle of part 2
        failed = up.step()
        assert failed.action == "retry" and "put part 2" in failed.detail
        results = up.run_until_idle()
    assert parts_sent(results) == [2, 3]
    assert make_s3().get(IMAGE_KEY) == IMAGE


def test_a_restarted_uploader_resumes_from_the_saved_parts(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    first = uploader(rig, make_s3())
    assert [first.step().part, first.step().part] == [1, 2]
    rig.restart()  # the process stops here; a new one opens the same files
    results = uploader(rig, make_s3()).run_until_idle()
    assert parts_sent(results) == [3]
    assert make_s3().get(IMAGE_KEY) == IMAGE


def test_a_part_that_arrived_but_was_not_saved_is_adopted_not_resent(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    t = make_s3()
    assert uploader(rig, t).step().part == 1
    _, progress = saved_progress(rig.box)
    # The dying process sent part 2; the server stored it, the commit never happened.
    t.put_part(IMAGE_KEY, str(progress.upload_id), 2, IMAGE[5 * MIB : 10 * MIB])
    rig.restart()
    results = uploader(rig, make_s3()).run_until_idle()
    assert parts_sent(results) == [3]
    assert make_s3().get(IMAGE_KEY) == IMAGE


def test_an_upload_gone_on_the_server_starts_over(
    rig: UplinkRig, make_s3: S3Factory, seaweed_s3: SeaweedS3, bucket: str
) -> None:
    t = make_s3()
    up = uploader(rig, t)
    assert up.step().part == 1
    _, progress = saved_progress(rig.box)
    seaweed_s3.client().abort_multipart_upload(  # e.g. a lifecycle rule cleaned it up
        Bucket=bucket, Key=f"site-a/{IMAGE_KEY}", UploadId=progress.upload_id)
    results = up.run_until_idle()
    assert results[0].action == "retry"
    assert parts_sent(results) == [1, 2, 3]
    assert t.get(IMAGE_KEY) == IMAGE


def test_a_lost_answer_to_the_completion_counts_as_delivered(
    rig: UplinkRig, make_s3: S3Factory
) -> None:
    t = make_s3()
    up = uploader(rig, t)
    assert [up.step().part, up.step().part] == [1, 2]
    item, progress = saved_progress(rig.box)
    # The dying process sent part 3 and the completion; only the answers were lost.
    last = t.put_part(IMAGE_KEY, str(progress.upload_id), 3, IMAGE[10 * MIB :])
    t.complete_multipart(IMAGE_KEY, str(progress.upload_id), [*progress.parts, last],
                         sha256_hex=item.sha256)
    rig.restart()
    results = uploader(rig, make_s3()).run_until_idle()
    done = [r for r in results if r.action == "sent"]
    assert len(done) == 1 and done[0].created is False and parts_sent(results) == [None]
    assert t.get(IMAGE_KEY) == IMAGE
