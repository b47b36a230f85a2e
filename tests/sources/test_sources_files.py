"""Moving files without losing or overwriting them, also across file systems."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from fieldagent.sources.files import free_name, move_file, write_atomic


def test_free_name_keeps_the_extension_and_respects_companions(tmp_path: Path) -> None:
    assert free_name(tmp_path, "a.jpg") == "a.jpg"
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "a-1.jpg.reason.json").write_bytes(b"")
    assert free_name(tmp_path, "a.jpg") == "a-1.jpg"
    assert free_name(tmp_path, "a.jpg", (".reason.json",)) == "a-2.jpg"
    (tmp_path / "noext").write_bytes(b"")
    assert free_name(tmp_path, "noext") == "noext-1"


def test_move_file_creates_the_folder_and_reports_a_vanished_source(tmp_path: Path) -> None:
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    dest = move_file(src, tmp_path / "new" / "day", "a.jpg")
    assert dest.read_bytes() == b"x" and not src.exists()
    with pytest.raises(FileNotFoundError):
        move_file(src, tmp_path / "new", "b.jpg")


def test_move_across_file_systems_copies_then_removes(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another file system than the test folder")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        src = Path(other) / "a.jpg"
        src.write_bytes(b"across")
        os.utime(src, (1_000, 1_000))
        dest = move_file(src, tmp_path / "processed", "a.jpg")
        assert not src.exists()
    assert dest.read_bytes() == b"across" and dest.stat().st_mtime == 1_000
    assert [p.name for p in dest.parent.iterdir()] == ["a.jpg"]  # no temp file left


def test_write_atomic_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
