"""What only the local-folder transport does: its files on disk and a missing mount."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fieldagent.uplink.errors import UplinkUnavailable
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.transport import open_transport


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_objects_are_plain_files_with_a_metadata_sidecar(tmp_path: Path) -> None:
    t = LocalTransport(tmp_path)
    t.put("raw/a/x.jpg", b"jpeg", sha256_hex=sha(b"jpeg"), content_type="image/jpeg",
          metadata={"camera": "cam1"})  # fmt: skip
    assert (tmp_path / "raw/a/x.jpg").read_bytes() == b"jpeg"
    sidecar = json.loads((tmp_path / ".meta/raw/a/x.jpg.json").read_text())
    assert sidecar == {
        "content_type": "image/jpeg",
        "metadata": {"camera": "cam1", "sha256": sha(b"jpeg")},
    }
    assert list((tmp_path / ".tmp").iterdir()) == []  # no temp file left behind
    assert t.list("") == ["raw/a/x.jpg"]  # internal folders are not objects


def test_a_completed_upload_leaves_no_parts_behind(tmp_path: Path) -> None:
    t = LocalTransport(tmp_path)
    upload = t.begin_multipart("v.bin", content_type="application/octet-stream")
    part = t.put_part("v.bin", upload, 1, b"abc")
    t.complete_multipart("v.bin", upload, [part], sha256_hex=sha(b"abc"))
    assert not (tmp_path / ".multipart" / upload).exists()
    # the answer was lost and the agent completes again: already there, not an error
    assert t.complete_multipart("v.bin", upload, [part]).created is False


def test_a_missing_folder_is_unavailable_and_never_created(tmp_path: Path) -> None:
    mount = tmp_path / "usb-disk"  # not mounted: writing would fill the device's own disk
    t = open_transport(f"file://{mount}")
    for call in (
        lambda: t.put("k", b"x", sha256_hex=sha(b"x")),
        lambda: t.exists("k"),
        lambda: t.get("k"),
        lambda: t.list(""),
        lambda: t.begin_multipart("k", content_type="x"),
    ):
        with pytest.raises(UplinkUnavailable, match="mounted"):
            call()
    assert not mount.exists()


def test_file_urls_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        LocalTransport.from_url("file://relative/dir")
