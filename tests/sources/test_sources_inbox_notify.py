"""File events for the inbox, on real files and the kernel's real inotify.

Each watcher here waits ``settle_seconds: 60`` on a clock that never moves unless the test
moves it, so a file taken at once was taken because of its event, never by settling.
To show an event did *not* arrive without sleeping, ``drain`` writes a file into another
watched folder and waits for it: every inbox shares one inotify instance and
reader thread, which handle the kernel's events in order, so by then every earlier event
has been handled.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldagent.config.site import InboxSource
from fieldagent.sources.errors import InboxUnavailable
from fieldagent.sources.inbox import InboxWatcher
from fieldagent.sources.notify import looks_whole, mount_type, network_mount
from fieldagent.sources.quarantine import Quarantine
from tests.support.clock import SimClock

DEADLINE = 5.0  # seconds; events come in milliseconds, this only bounds a failing test


class Ready:
    """Counts ``on_ready`` calls and lets the test wait for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, n: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.count >= n, DEADLINE), (
                f"on_ready was called {self.count} times, expected {n}")


def _watcher(
    folder: Path, clock: SimClock, quarantine: Quarantine,
    on_ready: Callable[[], None] | None = None, **cfg: Any,
) -> InboxWatcher:
    source = InboxSource(path=str(folder), **{"settle_seconds": 60, **cfg})
    w = InboxWatcher("cam1", source, clock, quarantine=quarantine, on_ready=on_ready)
    if cfg.get("notify", True) and not w.events_active:
        pytest.skip(f"inotify is not available on this machine: {w.fallback_reason}")
    return w


@pytest.fixture
def drain(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> Iterator[Callable[[], None]]:
    ready = Ready()
    sentinel = _watcher(tmp_path / "sentinel", clock, quarantine, ready)
    n = 0

    def run() -> None:
        nonlocal n
        n += 1
        (sentinel.folder / f"{n}.tif").write_bytes(b"II*\0")
        ready.wait_for(n)

    yield run
    sentinel.close()


def _watched_inodes() -> set[int]:
    """Inodes this process watches with inotify, from the kernel's /proc fdinfo."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            info = Path(f"/proc/self/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("inotify wd:"):
                ino = line.split(" ino:")[1].split()[0]
                out.add(int(ino, 16))
    return out


def test_a_file_written_in_place_is_taken_right_after_close_and_not_before(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    with open(w.folder / "slow.jpg", "wb") as f:  # an FTP server writing as bytes arrive
        for i in range(0, len(jpeg), 200):
            f.write(jpeg[i:i + 200])
            f.flush()
            assert w.scan() == []
    ready.wait_for(1)
    (taken,) = w.scan()
    assert taken.read_bytes() == jpeg and taken.parent == w.taken
    assert w.scan() == []
    assert ready.count == 1 and threading.current_thread().name not in ready.threads
    w.close()


def test_a_file_renamed_in_from_a_temp_name_or_another_folder_is_taken_at_once(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    part = w.folder / "img001.jpg.part"
    part.write_bytes(jpeg)  # its close is ignored: a temporary name
    part.rename(w.folder / "img001.jpg")
    ready.wait_for(1)
    assert [p.name for p in w.scan()] == ["img001.jpg"]
    assert ready.count == 1  # the .part close, handled before the rename, did not count
    elsewhere = tmp_path / "upload" / "img002.jpg"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(jpeg)
    elsewhere.rename(w.folder / "img002.jpg")  # an SFTP script's temp folder, same disk
    ready.wait_for(2)
    assert [p.read_bytes() for p in w.scan()] == [jpeg]
    w.close()


def test_a_file_closed_right_after_a_take_is_reported_at_once(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes
) -> None:
    """watchdog's Observer would hold this event 0.5 s behind the take's rename."""
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    (w.folder / "a.jpg").write_bytes(jpeg)
    ready.wait_for(1)
    assert len(w.scan()) == 1  # renames a.jpg out of the watched folder
    start = time.monotonic()
    (w.folder / "b.jpg").write_bytes(jpeg)
    ready.wait_for(2)
    assert time.monotonic() - start < 0.3
    assert [p.name for p in w.scan()] == ["b.jpg"]
    w.close()


def test_an_upload_cut_short_waits_and_is_taken_when_resumed(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    drain: Callable[[], None],
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    half = len(jpeg) // 2
    (w.folder / "cut.jpg").write_bytes(jpeg[:half])  # the link dropped: closed, no end marker
    drain()
    assert ready.count == 0 and w.scan() == []
    with open(w.folder / "cut.jpg", "ab") as f:  # the client resumes (APPE / REST+STOR)
        f.write(jpeg[half:])
    ready.wait_for(1)
    (taken,) = w.scan()
    assert taken.read_bytes() == jpeg
    w.close()


def test_a_file_reopened_after_its_close_waits_for_its_next_close(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    (w.folder / "burst.jpg").write_bytes(jpeg)
    ready.wait_for(1)
    with open(w.folder / "burst.jpg", "ab") as f:  # reopened before the agent scanned
        f.write(jpeg)
        f.flush()
        assert w.scan() == []  # its size is no longer the one seen at the close
    ready.wait_for(2)
    (taken,) = w.scan()
    assert taken.read_bytes() == jpeg + jpeg
    w.close()


def test_notify_false_keeps_the_settle_rule(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    drain: Callable[[], None],
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready, notify=False, settle_seconds=2)
    assert not w.events_active and w.fallback_reason == "notify is off in the config"
    (w.folder / "a.jpg").write_bytes(jpeg)
    drain()
    assert w.scan() == [] and ready.count == 0
    clock.advance(1.9)
    assert w.scan() == []
    clock.advance(0.1)
    assert [p.name for p in w.scan()] == ["a.jpg"]


def test_no_event_for_the_taken_and_processed_folders_temp_names_or_own_moves(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    drain: Callable[[], None],
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready, after="move")
    (w.taken / "x.jpg").write_bytes(jpeg)
    (w.folder / "processed").mkdir()
    (w.folder / "processed" / "y.jpg").write_bytes(jpeg)
    for name in (".hidden.jpg", "z.jpg.tmp", "notes.txt"):
        (w.folder / name).write_bytes(jpeg)
    os.mkdir(w.folder / "sub.jpg")
    drain()
    assert ready.count == 0
    (w.folder / "a.jpg").write_bytes(jpeg)
    ready.wait_for(1)
    (taken,) = w.scan()  # the take renames out of the inbox ...
    assert w.finish(taken) is not None  # ... and finishing moves to processed/<day>/
    drain()
    assert ready.count == 1
    assert w.scan() == []
    w.close()


def test_close_removes_the_watch_and_is_idempotent(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    drain: Callable[[], None],
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    inode = w.folder.stat().st_ino
    assert inode in _watched_inodes()
    w.close()
    w.close()
    assert inode not in _watched_inodes()
    assert not w.events_active and w.fallback_reason == "closed"
    (w.folder / "a.jpg").write_bytes(jpeg)
    drain()
    assert ready.count == 0 and w.scan() == []
    clock.advance(60)  # a closed watcher still works, by the settle rule
    assert [p.name for p in w.scan()] == ["a.jpg"]
    assert not w.events_active


def test_a_watcher_dropped_without_close_releases_its_watch(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    w = _watcher(tmp_path / "inbox", clock, quarantine, Ready())
    inode = w.folder.stat().st_ino
    assert inode in _watched_inodes()
    del w
    gc.collect()
    assert inode not in _watched_inodes()


def test_two_threads_scanning_while_files_arrive_take_each_file_once(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes
) -> None:
    names = [f"{i:03d}.jpg" for i in range(40)]
    w = _watcher(tmp_path / "inbox", clock, quarantine, Ready())
    got: list[str] = []
    done = threading.Event()

    def scanner() -> None:
        while not done.is_set():
            taken = [p.name for p in w.scan()]
            got.extend(taken)  # list.extend is atomic under the GIL
            if len(got) >= len(names):
                done.set()

    threads = [threading.Thread(target=scanner) for _ in range(2)]
    for t in threads:
        t.start()
    for name in names:
        (w.folder / name).write_bytes(jpeg)
    done.wait(DEADLINE)
    done.set()
    for t in threads:
        t.join(DEADLINE)
    assert sorted(got) == names
    w.close()


def test_a_removed_inbox_stops_events_and_the_next_good_scan_watches_again(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ready = Ready()
    w = _watcher(tmp_path / "inbox", clock, quarantine, ready)
    w.taken.rmdir()
    w.folder.rmdir()  # the USB disk holding it was unplugged
    deadline = time.monotonic() + DEADLINE
    while w.events_active and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not w.events_active
    assert "was removed or unmounted, so its file events stopped" in caplog.text
    with pytest.raises(InboxUnavailable):
        w.scan()
    w.folder.mkdir()  # plugged in again
    assert w.scan() == []
    assert w.events_active
    (w.folder / "a.jpg").write_bytes(jpeg)
    ready.wait_for(1)
    assert [p.name for p in w.scan()] == ["a.jpg"]
    w.close()


def test_a_failing_on_ready_is_logged_and_events_go_on(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ready = Ready()

    def on_ready() -> None:
        ready()
        if ready.count == 1:
            raise RuntimeError("the service's wake-up failed")

    w = _watcher(tmp_path / "inbox", clock, quarantine, on_ready)
    (w.folder / "a.jpg").write_bytes(jpeg)
    ready.wait_for(1)
    (w.folder / "b.jpg").write_bytes(jpeg)
    ready.wait_for(2)
    assert sorted(p.name for p in w.scan()) == ["a.jpg", "b.jpg"]
    assert "handling the file event for 'a.jpg'" in caplog.text
    w.close()


def test_events_lost_to_a_queue_overflow_leave_files_to_the_settle_rule(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"fs.inotify.max_queued_events is {limit}: too many events to overflow")
    ready = Ready()
    release = threading.Event()

    def on_ready() -> None:  # holds the inotify reader thread so the kernel queue fills
        ready()
        release.wait(DEADLINE)

    w = _watcher(tmp_path / "inbox", clock, quarantine, on_ready, settle_seconds=5)
    try:
        (w.folder / "first.jpg").write_bytes(jpeg)
        ready.wait_for(1)
        for i in range(limit + 10):  # alternate names: identical events would coalesce
            with open(w.folder / f"flood{i % 2}.txt", "wb"):
                pass
        (w.folder / "lost.jpg").write_bytes(jpeg)  # its event does not fit in the queue
    finally:
        release.set()
    deadline = time.monotonic() + DEADLINE
    while "inotify queue overflow" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "inotify queue overflow" in caplog.text
    assert [p.name for p in w.scan()] == ["first.jpg"]
    clock.advance(5)
    assert [p.name for p in w.scan()] == ["lost.jpg"]
    w.close()


_WITHOUT_INOTIFY_SIMPLE = """
import logging, sys
sys.modules["inotify_simple"] = None  # as on a device where the package is not installed
from datetime import UTC, datetime
from pathlib import Path
from fieldagent.config.site import InboxSource
from fieldagent.sources import InboxWatcher, Quarantine
logging.basicConfig(level=logging.WARNING, format="%(message)s")
now = lambda: datetime(2026, 6, 1, tzinfo=UTC)
inbox = Path(sys.argv[1])
w = InboxWatcher("cam1", InboxSource(path=str(inbox), settle_seconds=0), now,
                 quarantine=Quarantine(inbox / "q", now, 10**6), on_ready=lambda: None)
(inbox / "a.jpg").write_bytes(b"x")
print(w.events_active, [p.name for p in w.scan() + w.scan()])
"""


def test_without_inotify_simple_the_inbox_falls_back_to_polling_and_says_so_once(
    tmp_path: Path,
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_INOTIFY_SIMPLE, str(tmp_path / "inbox")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert out.stdout.split() == ["False", "['a.jpg']"]
    warnings = [line for line in out.stderr.splitlines() if "falls back to polling" in line]
    assert len(warnings) == 1
    assert "cam1" in warnings[0] and "inotify_simple package is not installed" in warnings[0]
    assert "settle_seconds=0 s" in warnings[0]


_MOUNTINFO = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
40 22 0:35 / /mnt/nas rw,relatime shared:20 - nfs4 nas:/cams rw,vers=4.2
41 22 0:36 / /mnt/nasdisk rw,relatime shared:21 - ext4 /dev/sdb1 rw
42 40 0:37 / /mnt/nas/local rw - tmpfs tmpfs rw
43 22 0:38 / /mnt/cam\\040share rw - cifs //nas/cam rw
"""


@pytest.mark.parametrize(("folder", "fs_type", "network"), [
    ("/mnt/nas/cam1", "nfs4", "nfs4"),
    ("/mnt/nas", "nfs4", "nfs4"),
    ("/mnt/nasdisk/cam1", "ext4", None),  # a name that merely starts like /mnt/nas
    ("/mnt/nas/local/cam1", "tmpfs", None),  # the deepest mount wins
    ("/mnt/cam share/cam1", "cifs", "cifs"),  # mountinfo writes the space as \040
    ("/srv/inbox", "ext4", None),
])
def test_the_mount_holding_the_inbox_tells_network_file_systems(
    folder: str, fs_type: str, network: str | None
) -> None:
    assert mount_type(Path(folder), _MOUNTINFO) == fs_type
    assert network_mount(Path(folder), _MOUNTINFO) == network


def test_this_machines_mounts_are_read(tmp_path: Path) -> None:
    assert mount_type(tmp_path) is not None


def test_only_jpeg_and_png_without_their_end_marker_look_unfinished(
    tmp_path: Path, jpeg: bytes
) -> None:
    png = (b"\x89PNG\r\n\x1a\n" + b"\0" * 30 + b"\0\0\0\0IEND\xaeB`\x82")
    cases = {"a.jpg": (jpeg, True), "b.jpg": (jpeg[:-2], False), "c.png": (png, True),
             "d.png": (png[:-1], False), "e.tif": (b"II*\0data", True), "f.jpg": (b"", False)}
    for name, (data, whole) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert looks_whole(tmp_path / name, len(data)) is whole, name
