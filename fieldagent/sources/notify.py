"""File events for an inbox: "this file is complete" the moment the kernel says so.

The settle rule (``inbox.py``) has to wait ``settle_seconds`` after a file stops changing,
plus up to one scan interval. On Linux, inotify reports the two moments a camera's upload
ends: ``IN_CLOSE_WRITE`` (an FTP/SFTP server or a script wrote the file in place and
closed it) and ``IN_MOVED_TO`` (a file written under a temporary name, here or in another
folder of the same file system, was renamed into the inbox). Either marks the file
complete at once; ``scan`` takes marked files without waiting.

Why ``inotify_simple`` and not watchdog's ``Observer``: the Observer holds every
``IN_MOVED_FROM`` for 0.5 s to pair it with an ``IN_MOVED_TO``, and events behind it wait
too (watchdog issue #649). Each take renames a file out of the inbox into ``.taken/``,
which is such an event, so the next camera file closed within half a second would be
reported half a second late: the whole latency budget. watchdog's lower layer
(``watchdog.observers.inotify_c``) avoids that but is a private module whose types change
in patch releases. ``inotify_simple`` is a documented, dependency-free binding of the
kernel calls themselves (``inotify_init1``, ``inotify_add_watch``, ``read``): we ask for
``IN_CLOSE_WRITE | IN_MOVED_TO`` on the inbox only, so our own takes raise no event at
all. All watchers share one inotify instance and one reader thread (``_Watches``), so
cameras cost one inotify watch each, not a thread each.

A mark remembers the file's size and modification time when the event came. ``scan``
takes a marked file only while both are unchanged: an FTP server that closes and reopens
a file (a resumed upload, APPE) changes them, and the file then waits for its next close
(or the settle rule). A JPEG or PNG whose end marker is missing at the close is not
marked either (an upload cut short by a dropped link, to be resumed): it is left to the
settle rule. What cannot be seen: a resume that reopens the file in the few milliseconds
between the close and this check. That file is taken incomplete, the pipeline rejects it
as truncated and it is quarantined, not lost.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs",
    "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.glusterfs", "fuse.gvfsd-fuse",
})
"""File systems where inotify sees only writes made through this machine's mount."""

_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


class NotifyUnavailable(Exception):
    """File events cannot be had for a folder; the message says why, for the log."""


@dataclass(frozen=True)
class _Mark:
    size: int
    mtime_ns: int
    generation: int


class Completions:
    """Names of files reported complete, with their size and mtime at that moment.

    ``arrived`` runs on the inotify thread, ``ready`` on the service's thread: one lock
    guards the marks. ``on_ready`` is called after each new mark, on the inotify thread.
    """

    def __init__(
        self,
        folder: Path,
        wanted: Callable[[str], bool],
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.folder = folder
        self._wanted = wanted
        self._on_ready = on_ready
        self._lock = threading.Lock()
        self._marks: dict[str, _Mark] = {}
        self._generation = 0

    def arrived(self, name: str) -> None:
        """A file was closed after writing, or moved in: mark it if it looks whole."""
        if not self._wanted(name):
            return
        path = self.folder / name
        try:
            st = os.stat(path, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or not looks_whole(path, st.st_size):
                return
        except OSError:  # gone again already (taken, moved away): nothing to mark
            return
        with self._lock:
            self._generation += 1
            self._marks[name] = _Mark(st.st_size, st.st_mtime_ns, self._generation)
        if self._on_ready is not None:
            self._on_ready()

    def generation(self) -> int:
        """A point in the stream of marks; take it before listing the folder."""
        with self._lock:
            return self._generation

    def ready(self, listing: Iterable[tuple[str, int, int]], since: int) -> set[str]:
        """Names in ``listing`` (name, size, mtime_ns) still as they were when marked.

        Those marks are used up. Marks older than ``since`` (the generation taken before
        the listing) whose file changed or is gone are dropped: the file waits for its
        next event or the settle rule. Newer marks are kept for the next scan.
        """
        stats = {name: (size, mtime) for name, size, mtime in listing}
        out: set[str] = set()
        with self._lock:
            for name, mark in list(self._marks.items()):
                if stats.get(name) == (mark.size, mark.mtime_ns):
                    out.add(name)
                    del self._marks[name]
                elif mark.generation <= since:
                    del self._marks[name]
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._marks)


def looks_whole(path: Path, size: int) -> bool:
    """False for an empty file, and for a JPEG or PNG whose end marker is missing.

    Reads 20 bytes. Any other format counts as whole (TIFF has no end marker). A JPEG
    with bytes after its end marker (some cameras append data) counts as not whole: it
    is only taken later, by the settle rule.
    """
    if size == 0:
        return False
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(max(0, size - 8))
        tail = f.read(8)
    if head.startswith(_JPEG_START):
        return tail.endswith(_JPEG_END)
    if head.startswith(_PNG_START):
        return tail.endswith(_PNG_END)
    return True


class _Watcher(Protocol):
    """What the shared reader calls, on its thread, for one watch."""

    def on_event(self, name: str) -> None: ...
    def on_watch_deleted(self) -> None: ...
    def on_queue_overflow(self) -> None: ...


class _Watches:
    """One inotify instance and one daemon reader thread for the whole process.

    Several watchers may watch the same folder: the kernel gives them one watch
    descriptor, removed when the last of them leaves. Callbacks run on the reader thread
    in the kernel's order, outside the lock, so a slow callback delays later events
    (and lets the kernel queue overflow) but never blocks ``add`` or ``remove``.
    """

    _instance: _Watches | None = None
    _instance_lock = threading.Lock()

    def __init__(self, inotify_simple: Any) -> None:
        self._mod = inotify_simple
        self._inotify = inotify_simple.INotify()
        self._lock = threading.Lock()
        self._by_wd: dict[int, dict[int, _Watcher]] = {}
        thread = threading.Thread(target=self._read_forever, name="inotify-reader",
                                  daemon=True)
        thread.start()

    @classmethod
    def get(cls) -> _Watches:
        """The process's shared instance; raises ``NotifyUnavailable`` saying why not."""
        with cls._instance_lock:
            if cls._instance is None:
                try:
                    import inotify_simple
                except ImportError:
                    raise NotifyUnavailable(
                        "the inotify_simple package is not installed") from None
                try:
                    cls._instance = cls(inotify_simple)
                except OSError as exc:
                    raise NotifyUnavailable(_why(exc)) from exc
            return cls._instance

    def add(self, folder: Path, watcher: _Watcher) -> int:
        """Watch ``folder`` for finished files on behalf of ``watcher``; its descriptor."""
        f = self._mod.flags
        mask = f.CLOSE_WRITE | f.MOVED_TO | f.ONLYDIR | f.EXCL_UNLINK
        with self._lock:  # held across the call: no event for a new wd goes unclaimed
            wd = int(self._inotify.add_watch(folder, mask))
            self._by_wd.setdefault(wd, {})[id(watcher)] = watcher
        return wd

    def remove(self, wd: int, watcher: _Watcher) -> None:
        """Stop passing events to ``watcher``; the kernel watch ends with its last one."""
        with self._lock:
            watchers = self._by_wd.get(wd)
            if watchers is None or watchers.pop(id(watcher), None) is None:
                return
            if watchers:
                return
            del self._by_wd[wd]
            # OSError: the kernel dropped it already (folder gone), IN_IGNORED follows
            with contextlib.suppress(OSError):
                self._inotify.rm_watch(wd)

    def _read_forever(self) -> None:
        while True:
            try:
                events = self._inotify.read()
            except OSError as exc:  # never expected; say so rather than die silently
                log.error("reading file events failed (%s); inboxes fall back to the "
                          "settle rule", exc)
                return
            for event in events:
                self._dispatch(event.wd, event.mask, event.name)

    def _dispatch(self, wd: int, mask: int, name: str) -> None:
        f = self._mod.flags
        with self._lock:
            if mask & f.Q_OVERFLOW:
                targets = [w for ws in self._by_wd.values() for w in ws.values()]
            elif mask & f.IGNORED:
                targets = list(self._by_wd.pop(wd, {}).values())
            else:
                targets = list(self._by_wd.get(wd, {}).values())
        for watcher in targets:
            try:
                if mask & f.Q_OVERFLOW:
                    watcher.on_queue_overflow()
                elif mask & f.IGNORED:
                    watcher.on_watch_deleted()
                elif not mask & f.ISDIR:  # a folder closed or moved in is no camera file
                    watcher.on_event(name)
            except Exception:  # one inbox's failure must not end every inbox's events
                log.exception("a file event handler failed; events go on")


class InboxEvents:
    """An inotify watch on one folder (not its sub-folders) that passes on the names of
    files closed after writing or moved in. Build it with ``start``; ``close`` ends it."""

    def __init__(self, camera_id: str, folder: Path, arrived: Callable[[str], None]) -> None:
        self.camera_id = camera_id
        self.folder = folder
        self._arrived = arrived
        self._lock = threading.Lock()
        self._watches: _Watches | None = None
        self._wd: int | None = None

    @classmethod
    def start(
        cls, camera_id: str, folder: Path, arrived: Callable[[str], None]
    ) -> InboxEvents:
        """Watch ``folder``; raises ``NotifyUnavailable`` saying why it cannot."""
        if not sys.platform.startswith("linux"):
            raise NotifyUnavailable(f"inotify exists on Linux only, this is {sys.platform}")
        watches = _Watches.get()
        events = cls(camera_id, folder, arrived)
        try:
            with events._lock:
                events._wd = watches.add(folder, events)
                events._watches = watches
        except OSError as exc:
            raise NotifyUnavailable(_why(exc)) from exc
        fs_type = network_mount(folder)
        if fs_type is not None:
            log.warning("camera %s: the inbox %s is on a %s network mount: files written "
                        "there by other machines raise no file events, so those are found "
                        "by polling every scan with the settle time", camera_id, folder,
                        fs_type)
        return events

    @property
    def active(self) -> bool:
        """True while the kernel reports events for the folder."""
        with self._lock:
            return self._wd is not None

    def close(self) -> None:
        """Stop watching; safe to call more than once."""
        with self._lock:
            watches, wd = self._watches, self._wd
            self._watches = self._wd = None
        if watches is not None and wd is not None:
            watches.remove(wd, self)

    # -- called by _Watches on the shared reader thread ----------------------------------
    def on_event(self, name: str) -> None:
        """Pass on a finished file's name. Never raises: that would end the shared thread."""
        try:
            self._arrived(name)
        except Exception:
            log.exception("camera %s: handling the file event for %r in %s failed; the file "
                          "is still taken, by the next scan or by the settle rule",
                          self.camera_id, name, self.folder)

    def on_watch_deleted(self) -> None:
        """The kernel dropped the watch: the folder was deleted, moved or unmounted."""
        with self._lock:
            if self._wd is None:
                return
            self._watches = self._wd = None
        log.warning("camera %s: the inbox %s was removed or unmounted, so its file events "
                    "stopped; files are found by polling every scan with the settle time "
                    "until the next scan that can list the folder watches it again",
                    self.camera_id, self.folder)

    def on_queue_overflow(self) -> None:
        log.warning("camera %s: the kernel dropped file events (inotify queue overflow); "
                    "files whose events were lost are taken by the settle rule",
                    self.camera_id)


def mount_type(folder: Path, mountinfo: str | None = None) -> str | None:
    """The file system type of the mount holding ``folder`` (``ext4``, ``nfs4`` ...).

    Reads ``/proc/self/mountinfo`` unless its text is given; None if unknown.
    """
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    target = os.path.realpath(folder)
    best, best_type = "", None
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        point = _unescape(fields[4])
        fs_type = line.split(" - ", 1)[1].split()[0]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fs_type
    return best_type


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def network_mount(folder: Path, mountinfo: str | None = None) -> str | None:
    """The type of the network file system holding ``folder``, or None if it is local."""
    fs_type = mount_type(folder, mountinfo)
    return fs_type if fs_type in NETWORK_FILESYSTEMS else None


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return ("the inotify watch limit is reached; raise it, e.g. "
                "sysctl fs.inotify.max_user_watches=65536")
    if exc.errno == errno.EMFILE:
        return ("the inotify instance limit is reached; raise it, e.g. "
                "sysctl fs.inotify.max_user_instances=512")
    return f"inotify cannot watch the folder ({exc.strerror or exc})"
