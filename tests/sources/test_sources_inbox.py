"""The inbox watcher on real files: settling, temp names, vanishing files, disposal.

These tests pin the settle rule, so their watchers run with ``notify: false`` (file events
would take closed files at once); ``test_sources_inbox_notify.py`` tests the events.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fieldagent.config.site import InboxSource
from fieldagent.sources.errors import InboxUnavailable
from fieldagent.sources.inbox import InboxWatcher
from fieldagent.sources.quarantine import Quarantine
from tests.support.clock import SimClock


def _watcher(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, **cfg: Any
) -> InboxWatcher:
    source = InboxSource(path=str(tmp_path / "inbox"), **{"notify": False, **cfg})
    return InboxWatcher("cam1", source, clock, quarantine=quarantine)


class SlowWriter(threading.Thread):
    """Writes one file in place, one chunk each time the test says ``step()``."""

    def __init__(self, path: Path, chunks: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.path, self.chunks = path, chunks
        self._go = threading.Semaphore(0)
        self._done = threading.Semaphore(0)

    def run(self) -> None:
        with open(self.path, "wb") as f:
            for chunk in self.chunks:
                self._go.acquire()
                f.write(chunk)
                f.flush()
                self._done.release()

    def step(self) -> None:
        self._go.release()
        assert self._done.acquire(timeout=5), "the writer thread did not write"


def test_a_file_written_slowly_in_place_is_taken_only_after_it_stops_changing(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=5)
    chunks = [os.urandom(4096) for _ in range(6)]
    writer = SlowWriter(w.folder / "slow.jpg", chunks)
    writer.start()
    for i in range(len(chunks)):
        if i:
            clock.advance(60)  # long gaps between scans: only "it changed" keeps it waiting
        writer.step()
        assert w.scan() == []
    writer.join(5)
    clock.advance(4.9)
    assert w.scan() == []
    clock.advance(0.1)
    (taken,) = w.scan()
    assert taken.read_bytes() == b"".join(chunks)
    assert w.scan() == []


def test_same_size_but_new_mtime_restarts_settling(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=2)
    f = w.folder / "a.jpg"
    f.write_bytes(b"x" * 100)
    os.utime(f, ns=(1_000_000_000, 1_000_000_000))
    assert w.scan() == []
    clock.advance(1.5)
    os.utime(f, ns=(2_000_000_000, 2_000_000_000))  # rewritten with the same size
    assert w.scan() == []
    clock.advance(1.5)
    assert w.scan() == []  # 3 s since first seen, 1.5 s since it last changed
    clock.advance(0.5)
    assert [p.name for p in w.scan()] == ["a.jpg"]


def test_temp_name_then_rename_is_taken_once(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=2)
    part = w.folder / "img001.jpg.part"
    part.write_bytes(b"jpeg bytes")
    clock.advance(10)
    assert w.scan() == []
    clock.advance(10)
    assert w.scan() == []
    part.rename(w.folder / "img001.jpg")
    assert w.scan() == []
    clock.advance(2)
    taken = w.scan()
    assert [p.name for p in taken] == ["img001.jpg"]
    for _ in range(3):
        clock.advance(5)
        assert w.scan() == []
    assert w.finish(taken[0]) is None
    assert list(w.folder.glob("*.jpg")) == [] and not taken[0].exists()


def test_settle_zero_takes_a_file_on_first_sight(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    (w.folder / "a.png").write_bytes(b"x")
    assert [p.name for p in w.scan()] == ["a.png"]


@pytest.mark.parametrize(
    "name",
    [".hidden.jpg", "a.jpg.tmp", "a.jpg.filepart", "a.jpg~", "a.jpg.crdownload", "a.jpg.part",
     "notes.txt", "noext", "jpg"],
)
def test_hidden_temporary_and_other_names_are_left_alone(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, name: str
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=1)
    (w.folder / name).write_bytes(b"x")
    for _ in range(3):
        assert w.scan() == []
        clock.advance(5)
    assert (w.folder / name).exists()


def test_extensions_any_case_and_empty_allow_list_takes_everything(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0, extensions=[".TIFF", "JPG"])
    for name in ("A.JPG", "b.tiff", "c.png", "d.txt"):
        (w.folder / name).write_bytes(b"x")
    assert sorted(p.name for p in w.scan()) == ["A.JPG", "b.tiff"]
    other = tmp_path / "inbox2"
    every = InboxWatcher("cam2", InboxSource(path=str(other), settle_seconds=0, extensions=[]),
                         clock, quarantine=quarantine)
    for name in ("c.png", "d.txt", "noext"):
        (other / name).write_bytes(b"x")
    assert sorted(p.name for p in every.scan()) == ["c.png", "d.txt", "noext"]


def test_subfolders_and_symlinks_are_ignored(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    (w.folder / "2026-06-01").mkdir()
    (w.folder / "2026-06-01" / "deep.jpg").write_bytes(b"x")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    (w.folder / "link.jpg").symlink_to(outside)
    assert w.scan() == []
    assert outside.exists()


def test_oldest_first_by_modification_time(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    for name, t in (("a.jpg", 300), ("b.jpg", 100), ("c.jpg", 200)):
        f = w.folder / name
        f.write_bytes(b"x")
        os.utime(f, (t, t))
    assert [p.name for p in w.scan()] == ["b.jpg", "c.jpg", "a.jpg"]


def test_a_file_that_vanishes_while_settling_is_forgotten(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=2)
    f = w.folder / "a.jpg"
    f.write_bytes(b"first")
    assert w.scan() == []
    f.unlink()
    clock.advance(5)
    assert w.scan() == []
    f.write_bytes(b"other")  # a new file under the same name settles from scratch
    assert w.scan() == []
    clock.advance(2)
    assert [p.read_bytes() for p in w.scan()] == [b"other"]


class _VanishingWatcher(InboxWatcher):
    """Deletes each settled file just before it is taken: the race with a camera's cleanup."""

    def _settled(self, now: datetime) -> list[str]:
        names = super()._settled(now)
        for name in names:
            (self.folder / name).unlink()
        return names


def test_a_file_that_vanishes_between_scan_and_take_or_finish_is_no_error(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    inbox = tmp_path / "inbox"
    racing = _VanishingWatcher("cam1", InboxSource(path=str(inbox), settle_seconds=0,
                                                   notify=False), clock, quarantine=quarantine)
    (inbox / "gone.jpg").write_bytes(b"x")
    assert racing.scan() == []

    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0, after="move")
    (inbox / "a.jpg").write_bytes(b"x")
    (inbox / "b.jpg").write_bytes(b"x")
    a, b = w.scan()
    a.unlink()
    b.unlink()
    assert w.finish(a) is None
    assert w.quarantine(b, "corrupt", "bad bytes") is None
    assert not (tmp_path / "quarantine" / "cam1").exists() or not any(
        (tmp_path / "quarantine" / "cam1").iterdir()
    )


def test_a_camera_reusing_one_name_cannot_overwrite_a_queued_frame(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    (w.folder / "snap.jpg").write_bytes(b"frame 1")
    (first,) = w.scan()
    (w.folder / "snap.jpg").write_bytes(b"frame 2")
    (second,) = w.scan()
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"frame 1", b"frame 2")
    w.finish(first)
    assert second.read_bytes() == b"frame 2"


def test_frames_taken_before_a_restart_are_offered_again(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=3)
    (w.folder / "a.jpg").write_bytes(b"x")
    w.scan()
    clock.advance(3)
    (taken,) = w.scan()  # then the agent stops before finishing it
    (w.folder / "b.jpg").write_bytes(b"y")
    again = _watcher(tmp_path, clock, quarantine, settle_seconds=3)
    assert again.scan() == [taken]  # at once; b.jpg must settle first
    assert again.scan() == []
    clock.advance(3)
    assert [p.name for p in again.scan()] == ["b.jpg"]


def test_clock_stepping_back_does_not_hold_files_for_hours(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=2)
    (w.folder / "a.jpg").write_bytes(b"x")
    w.scan()
    clock.advance(-3600)  # NTP corrects a device clock that ran ahead
    assert w.scan() == []
    clock.advance(2)
    assert [p.name for p in w.scan()] == ["a.jpg"]


def test_quarantine_keeps_the_file_with_its_reason_and_never_overwrites(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    kept = []
    for content in (b"first", b"second"):
        (w.folder / "img.jpg").write_bytes(content)
        (taken,) = w.scan()
        dest = w.quarantine(taken, "truncated", "the JPEG ends early")
        assert dest is not None
        kept.append(dest)
    assert kept[0] != kept[1]
    assert [p.read_bytes() for p in kept] == [b"first", b"second"]
    assert all(p.parent == tmp_path / "quarantine" / "cam1" for p in kept)
    for p in kept:
        record = json.loads(p.with_name(p.name + ".reason.json").read_text())
        assert record == {
            "reason": "truncated",
            "message": "the JPEG ends early",
            "time": clock.now.isoformat(),
            "camera": "cam1",
            "original_path": str(w.folder / "img.jpg"),
        }
    assert not list(w.folder.glob("*.jpg")) and not list(w.taken.iterdir())


def test_quarantine_is_bounded_per_camera_keeping_the_newest(
    tmp_path: Path, clock: SimClock
) -> None:
    q = Quarantine(tmp_path / "q", clock, keep_bytes=2_500)
    for i in range(5):
        f = tmp_path / f"f{i}.jpg"
        f.write_bytes(bytes([i]) * 1000)
        q.put("cam1", f, "corrupt", "bad")
        clock.advance(60)
    left = sorted(p for p in (tmp_path / "q" / "cam1").iterdir()
                  if not p.name.endswith(".reason.json"))
    assert [p.read_bytes()[0] for p in left] == [3, 4]
    assert all(p.with_name(p.name + ".reason.json").exists() for p in left)
    assert len(list((tmp_path / "q" / "cam1").iterdir())) == 4
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"h" * 5000)
    q.put("cam1", huge, "too_large", "big")
    assert [p.name for p in (tmp_path / "q" / "cam1").iterdir()
            if not p.name.endswith(".json")] == [f"{clock.now:%Y%m%dT%H%M%SZ}-huge.jpg"]


def test_after_move_files_go_to_day_folders_without_overwriting(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0, after="move")
    moved = []
    for content in (b"one", b"two"):
        (w.folder / "snap.jpg").write_bytes(content)
        (taken,) = w.scan()
        moved.append(w.finish(taken))
    day = w.folder / "processed" / "2026-06-01"
    assert moved == [day / "snap.jpg", day / "snap-1.jpg"]
    assert [p.read_bytes() for p in moved if p] == [b"one", b"two"]
    assert w.scan() == []  # the processed folder inside the inbox is not scanned


def test_processed_days_beyond_the_retention_are_pruned(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    processed = tmp_path / "done"
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0, after="move",
                 processed_dir=str(processed), keep_processed_days=2)
    (processed / "keep-me").mkdir(parents=True)  # not a day folder: never touched
    for _ in range(4):
        (w.folder / "a.jpg").write_bytes(b"x")
        w.finish(w.scan()[0])
        clock.advance(86_400)
    assert sorted(p.name for p in processed.iterdir()) == [
        "2026-06-02", "2026-06-03", "2026-06-04", "keep-me"]
    clock.advance(86_400 * 30)
    restarted = _watcher(tmp_path, clock, quarantine, after="move",
                         processed_dir=str(processed), keep_processed_days=2)
    assert restarted.prune_processed() == 0  # already pruned when it started
    assert sorted(p.name for p in processed.iterdir()) == ["keep-me"]


def test_after_delete_removes_the_file(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    (w.folder / "a.jpg").write_bytes(b"x")
    (taken,) = w.scan()
    assert w.finish(taken) is None
    assert not taken.exists() and not (w.folder / "processed").exists()


def test_a_shed_file_is_disposed_of_with_a_warning(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, caplog: pytest.LogCaptureFixture
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0, after="move")
    (w.folder / "a.jpg").write_bytes(b"x")
    (taken,) = w.scan()
    with caplog.at_level(logging.WARNING, "fieldagent.sources.inbox"):
        dest = w.finish(taken, "shed")
    assert dest is not None and dest.read_bytes() == b"x"
    assert "a.jpg was not analysed" in caplog.text
    with pytest.raises(ValueError, match="outcome"):
        w.finish(dest, "rejected")  # type: ignore[arg-type]


def test_poll_gives_queue_items_without_capture_time(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine, settle_seconds=0)
    (w.folder / "a.jpg").write_bytes(b"x")
    (item,) = w.poll()
    assert (item.camera, item.path.name, item.captured_at) == ("cam1", "a.jpg", None)


def test_a_missing_inbox_is_created(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine)
    assert w.folder.is_dir() and w.folder == tmp_path / "inbox"


def test_an_inbox_that_is_a_file_or_under_a_file_is_a_clear_error(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    (tmp_path / "inbox").write_text("oops")
    with pytest.raises(InboxUnavailable, match=r"inbox .*/inbox exists but is not a folder"):
        _watcher(tmp_path, clock, quarantine)
    under = InboxSource(path=str(tmp_path / "inbox" / "cam1"))
    with pytest.raises(InboxUnavailable, match=r"cannot create or open the inbox folder .*/cam1"):
        InboxWatcher("cam1", under, clock, quarantine=quarantine)


def test_an_inbox_that_disappears_while_running_is_a_clear_error(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path, clock, quarantine)
    (w.folder / ".taken").rmdir()
    w.folder.rmdir()  # e.g. the USB disk holding it was unplugged
    with pytest.raises(InboxUnavailable, match=r"cannot list the inbox folder .*/inbox"):
        w.scan()


_AS_NOBODY = """
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from fieldagent.config.site import InboxSource
from fieldagent.sources import InboxUnavailable, InboxWatcher, Quarantine
if os.getuid() == 0:  # root ignores permissions: become nobody after the imports
    os.setgid(65534)
    os.setuid(65534)
    os.environ["USER"] = "nobody"
now = lambda: datetime.now(UTC)
for path in sys.argv[1:]:
    try:
        InboxWatcher("cam1", InboxSource(path=path), now,
                     quarantine=Quarantine(Path(path) / "q", now, 10**6))
    except InboxUnavailable as exc:
        print(exc)
"""


def test_permission_problems_name_the_folder_and_the_user() -> None:
    with tempfile.TemporaryDirectory(prefix="fieldagent-perm-") as top:
        root = Path(top)  # outside pytest's 0700 tree, so the other user can reach it
        (root / "existing").mkdir()
        os.chmod(root / "existing", 0o555)
        os.chmod(root, 0o555)
        try:
            out = subprocess.run(
                [sys.executable, "-c", _AS_NOBODY, str(root / "existing"), str(root / "new")],
                capture_output=True, text=True, timeout=60, check=True,
            ).stdout.splitlines()
        finally:
            os.chmod(root, 0o755)
    user = "nobody" if os.getuid() == 0 else getpass.getuser()
    assert len(out) == 2
    assert f"user {user} may not read and remove files in the inbox folder {root}/existing" in (
        out[0])
    assert f"inbox folder {root}/new as user {user}: Permission denied" in out[1]
