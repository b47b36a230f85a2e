"""One behaviour suite for every transport: S3 (on a real SeaweedFS) and the local folder.

The promises the uploader builds on: create-only writes that never overwrite, digests
checked before sending, multipart uploads that survive a restart, and errors from the
uplink tree only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fieldagent.uplink.errors import PayloadCorrupt, UplinkRejected, UploadGone
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.transport import Part, Transport, open_transport

MIB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["s3", "local"])
def make_transport(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Transport]:
    """A factory: each call is a fresh transport on the same target (a restarted agent)."""
    if request.param == "local":
        return lambda: LocalTransport(tmp_path)
    make_s3 = request.getfixturevalue("make_s3")
    return lambda: make_s3()


def test_put_then_get_list_and_exists(make_transport: Callable[[], Transport]) -> None:
    t = make_transport()
    body = b'{"signal": "gcc", "value": 0.41}'
    out = t.put("raw/signals/a.json", body, sha256_hex=sha(body), content_type="application/json")
    assert out.created and out.key == "raw/signals/a.json"
    assert t.get("raw/signals/a.json") == body
    assert t.exists("raw/signals/a.json") and not t.exists("raw/signals/b.json")
    assert t.list("raw/") == ["raw/signals/a.json"]
    assert t.list("raw/images/") == []


def test_second_put_is_not_created_and_does_not_overwrite(
    make_transport: Callable[[], Transport],
) -> None:
    t = make_transport()
    first, second = b"first version", b"second version"
    assert t.put("k/obj.bin", first, sha256_hex=sha(first)).created
    again = make_transport().put("k/obj.bin", first, sha256_hex=sha(first))
    assert again.created is False
    assert t.get("k/obj.bin") == first
    assert t.list("k/") == ["k/obj.bin"]
    # a different body at the same key is never written over the first
    with pytest.raises(UplinkRejected) as err:
        t.put("k/obj.bin", second, sha256_hex=sha(second))
    assert err.value.code == "KeyCollision"
    assert t.get("k/obj.bin") == first


def test_damaged_payload_is_refused_before_sending(
    make_transport: Callable[[], Transport],
) -> None:
    t = make_transport()
    with pytest.raises(PayloadCorrupt, match="spooled copy is damaged"):
        t.put("k/bad.bin", b"bytes on disk now", sha256_hex=sha(b"bytes when enqueued"))
    assert not t.exists("k/bad.bin")


def test_get_of_missing_key_is_rejected(make_transport: Callable[[], Transport]) -> None:
    with pytest.raises(UplinkRejected) as err:
        make_transport().get("k/none.bin")
    assert err.value.code == "NoSuchKey"


def test_multipart_resumes_after_restart(make_transport: Callable[[], Transport]) -> None:
    chunks = [bytes([i]) * (5 * MIB) for i in range(1, 5)] + [b"tail" * 1000]
    whole = b"".join(chunks)
    first = make_transport()
    upload = first.begin_multipart(
        "big/video.bin", content_type="video/mp4", metadata={"sha256": sha(whole)}
    )
    for n, chunk in enumerate(chunks[:3], start=1):
        first.put_part("big/video.bin", upload, n, chunk)

    restarted = make_transport()  # "crash": a new instance knows only the upload id
    have = restarted.list_parts("big/video.bin", upload)
    assert [(p.number, p.size) for p in have] == [(1, 5 * MIB), (2, 5 * MIB), (3, 5 * MIB)]
    rest = [
        restarted.put_part("big/video.bin", upload, n, chunk)
        for n, chunk in enumerate(chunks, start=1)
        if n > len(have)
    ]
    listed = restarted.list_parts("big/video.bin", upload)
    assert [_id(p) for p in listed[3:]] == [_id(p) for p in rest]
    assert [p.number for p in listed] == [1, 2, 3, 4, 5]
    parts = [p.with_local_copy(chunks[p.number - 1]) for p in listed]
    done = restarted.complete_multipart("big/video.bin", upload, parts, sha256_hex=sha(whole))
    assert done.created
    assert sha(restarted.get("big/video.bin")) == sha(whole)


def _id(part: Part) -> tuple[int, str, int]:
    """What a listing must agree on (S3 servers may leave out the SHA-256)."""
    return (part.number, part.etag, part.size)


def test_complete_twice_is_not_created_the_second_time(
    make_transport: Callable[[], Transport],
) -> None:
    t = make_transport()
    data = b"x" * 1000
    upload = t.begin_multipart("m/one.bin", content_type="application/octet-stream")
    part = t.put_part("m/one.bin", upload, 1, data)
    assert t.complete_multipart("m/one.bin", upload, [part], sha256_hex=sha(data)).created
    again = t.complete_multipart("m/one.bin", upload, [part], sha256_hex=sha(data))
    assert again.created is False
    assert t.get("m/one.bin") == data


def test_complete_over_an_existing_object_does_not_overwrite(
    make_transport: Callable[[], Transport],
) -> None:
    t = make_transport()
    original = b"already delivered"
    t.put("m/same.bin", original, sha256_hex=sha(original))
    upload = t.begin_multipart("m/same.bin", content_type="application/octet-stream")
    part = t.put_part("m/same.bin", upload, 1, original)
    out = t.complete_multipart("m/same.bin", upload, [part], sha256_hex=sha(original))
    assert out.created is False and t.get("m/same.bin") == original


def test_unknown_or_aborted_upload_is_gone(make_transport: Callable[[], Transport]) -> None:
    t = make_transport()
    upload = t.begin_multipart("m/gone.bin", content_type="application/octet-stream")
    part = t.put_part("m/gone.bin", upload, 1, b"abc")
    t.abort_multipart("m/gone.bin", upload)
    t.abort_multipart("m/gone.bin", upload)  # aborting twice is fine
    with pytest.raises(UploadGone):
        t.list_parts("m/gone.bin", upload)
    with pytest.raises(UploadGone):
        t.put_part("m/gone.bin", upload, 2, b"def")
    with pytest.raises(UploadGone):
        t.complete_multipart("m/gone.bin", upload, [part])
    assert not t.exists("m/gone.bin")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".hidden/x", "a/.tmp"])
def test_unsafe_keys_are_refused(make_transport: Callable[[], Transport], key: str) -> None:
    with pytest.raises(ValueError, match="not a safe relative key"):
        make_transport().put(key, b"x", sha256_hex=sha(b"x"))


def test_open_transport_by_url(tmp_path: Path) -> None:
    t = open_transport(f"file://{tmp_path}")
    assert isinstance(t, LocalTransport) and t.root == tmp_path
    with pytest.raises(ValueError, match="neither file"):
        open_transport("ftp://example/x")


def test_a_resent_part_completes_with_the_copy_put_part_returned(
    make_transport: Callable[[], Transport],
) -> None:
    t = make_transport()
    upload = t.begin_multipart("m/resent.bin", content_type="application/octet-stream")
    t.put_part("m/resent.bin", upload, 1, b"a" * (5 * MIB))
    last = t.put_part("m/resent.bin", upload, 1, b"c" * (5 * MIB))
    tail = t.put_part("m/resent.bin", upload, 2, b"end")
    t.put_part("m/resent.bin", upload, 2, b"end")  # the same bytes again: still one part
    listed = {p.number: _id(p) for p in t.list_parts("m/resent.bin", upload)}
    assert listed[2] == _id(tail)
    # SeaweedFS keeps both copies of part 1 and cannot say which is newer, so it is left
    # out (send it again); where a re-send replaces a part, the last copy is listed.
    assert listed.get(1, _id(last)) == _id(last)
    t.complete_multipart("m/resent.bin", upload, [last, tail])
    assert t.get("m/resent.bin") == b"c" * (5 * MIB) + b"end"


def test_complete_needs_every_part_sha256(make_transport: Callable[[], Transport]) -> None:
    t = make_transport()
    upload = t.begin_multipart("m/nosha.bin", content_type="application/octet-stream")
    part = t.put_part("m/nosha.bin", upload, 1, b"abc")
    with pytest.raises(ValueError, match="with_local_copy"):
        t.complete_multipart("m/nosha.bin", upload, [replace(part, sha256_b64="")])
    with pytest.raises(ValueError, match="upload this part again"):
        part.with_local_copy(b"abcd")


def test_a_part_sha256_that_does_not_match_is_gone_not_retried(
    make_transport: Callable[[], Transport],
) -> None:
    """Completion with a SHA-256 from a local copy that differs from what was uploaded:
    retrying cannot help, the upload must begin again."""
    t = make_transport()
    upload = t.begin_multipart("m/differs.bin", content_type="application/octet-stream")
    part = t.put_part("m/differs.bin", upload, 1, b"uploaded bytes")
    other = replace(part, sha256_b64=part.with_local_copy(b"changed bytes!").sha256_b64)
    with pytest.raises(UploadGone):
        t.complete_multipart("m/differs.bin", upload, [other])
    assert not t.exists("m/differs.bin")
