"""The inbox: a folder a camera drops files into, by FTP/SFTP upload or a capture script.

When is a file finished? Writers differ: some upload under a temporary name and rename
(``.part``, ``.filepart``, ``.tmp``, ``~``, ``.crdownload``, or a hidden ``.name``), some
write in place, slowly. Two rules decide, and a file is taken as soon as either holds:

* **File events** (Linux, ``notify: true``, the default; ``notify.py``): a file closed
  after writing or renamed into the folder is complete at once, so capture-to-alert
  latency is not held back by ``settle_seconds`` nor by the scan interval (``on_ready``
  wakes the service). It is taken only if its size and modification time are still those
  seen at the event, and a JPEG or PNG only if its end marker is there; see ``notify.py``
  for FTP servers that close and reopen a file.
* **The settle rule**, always on, and the only rule where there are no events (other
  systems, files written by other machines on a network mount, the inotify_simple package
  missing, the inotify limits reached, files already there at start): a file is taken
  once its size and modification time have not changed across scans for
  ``settle_seconds`` of the injected clock. A writer that pauses longer than that
  mid-file will be taken half-written; the pipeline then rejects it as truncated and it
  is quarantined, not lost. Set ``settle_seconds`` above the longest pause the camera's
  link makes. Settling starts at the first scan that sees a file, so after a restart
  every file waits once more.

Taking a file renames it into ``<inbox>/.taken/`` at once (same folder, so an atomic
rename). A camera that reuses one file name cannot overwrite a frame still waiting in the
queue, and frames taken before a crash or restart are offered again by the first scan.

Only regular files directly in the folder count: sub-folders, symbolic links, hidden and
temporary names, and names outside ``extensions`` are left alone.

``scan`` runs on the service's thread while events arrive on the shared inotify reader thread:
the marks they share have their own lock, and ``scan`` itself is serialised, so two
threads scanning at once still get each file once.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fieldagent.sources.clock import Clock, utc
from fieldagent.sources.errors import InboxUnavailable
from fieldagent.sources.files import free_name, move_file
from fieldagent.sources.notify import Completions, InboxEvents, NotifyUnavailable
from fieldagent.sources.quarantine import Quarantine
from fieldagent.sources.queue import WorkItem

if TYPE_CHECKING:  # the config and the pipeline import this package: no cycle at run time
    from fieldagent.config.site import InboxSource

log = logging.getLogger(__name__)

TEMP_SUFFIXES = (".part", ".tmp", ".filepart", "~", ".crdownload")
TAKEN_DIR = ".taken"

Outcome = Literal["ok", "shed"]


@dataclass(frozen=True)
class _Seen:
    """A file's size and mtime at the last scan, and since when they have not changed."""

    size: int
    mtime_ns: int
    since: datetime


class InboxWatcher:
    """Finds finished files in one camera's inbox and disposes of them after analysis.

    ``on_ready`` is called, on the shared inotify reader thread, each time a file becomes
    complete by a file event: it must be cheap and thread-safe (set an event that wakes
    the thread that calls ``scan``). ``close`` stops the file events.
    """

    def __init__(
        self,
        camera_id: str,
        cfg: InboxSource,
        clock: Clock,
        *,
        quarantine: Quarantine,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.cfg = cfg
        self.clock = clock
        self.folder = Path(cfg.path)
        self.processed = self.folder / cfg.processed_dir
        self._quarantine = quarantine
        self._seen: dict[str, _Seen] = {}
        self._scan_lock = threading.Lock()
        _ensure_folder(camera_id, self.folder)
        self.taken = self.folder / TAKEN_DIR
        _ensure_folder(camera_id, self.taken)
        self._leftovers = _oldest_first(p for p in self.taken.iterdir() if p.is_file())
        if self._leftovers:
            log.info("camera %s: %d files taken before the last stop are offered again",
                     camera_id, len(self._leftovers))
        self.prune_processed()
        # the completions hold no reference to self: a dropped watcher can be collected
        self._completions = Completions(self.folder, partial(_wanted, cfg), on_ready)
        self.fallback_reason: str | None = "notify is off in the config"
        self._events = self._start_events() if cfg.notify else None

    @property
    def events_active(self) -> bool:
        """True while file events mark finished files (else the settle rule alone)."""
        events = self._events
        return events is not None and events.active

    def close(self) -> None:
        """Stop the file events (the watcher still works, by the settle rule alone).

        Safe to call more than once. A watcher dropped without ``close`` stops its
        events when it is garbage-collected.
        """
        with self._scan_lock:
            events, self._events = self._events, None
            self.fallback_reason = "closed"
        if events is not None:
            events.close()

    def scan(self) -> list[Path]:
        """Files that finished being written, oldest first; each is returned once.

        The returned paths are inside ``<inbox>/.taken/``; hand each back to ``finish``
        or ``quarantine``.
        """
        with self._scan_lock:
            now = utc(self.clock)
            leftovers, self._leftovers = self._leftovers, []
            taken = (self._take(name) for name in self._settled(now))
            out = leftovers + [p for p in taken if p is not None]
            if self._events is not None and not self._events.active:
                self._events.close()  # the folder was gone; it can be listed again
                self._events = self._start_events()
            return out

    def waiting(self) -> int:
        """Candidate files in the inbox not taken yet (complete or still being written)."""
        try:
            return len(self._listing())
        except InboxUnavailable:
            return 0

    def poll(self) -> list[WorkItem]:
        """``scan`` as queue items; the capture time is left to the pipeline (EXIF, file)."""
        return [WorkItem(self.camera_id, path, None) for path in self.scan()]

    def finish(self, path: Path, outcome: Outcome = "ok") -> Path | None:
        """Dispose of a taken file: delete it or move it to the processed folder.

        ``shed`` is for a file the queue dropped unanalysed: it goes the same way (so the
        inbox cannot grow without bound while analysis is behind) with a warning naming
        it. Returns where the file went, or None if it was deleted or had vanished.
        """
        if outcome not in ("ok", "shed"):
            raise ValueError(f"outcome must be 'ok' or 'shed', got {outcome!r}")
        if outcome == "shed":
            log.warning("camera %s: %s was not analysed (the analysis queue is full); %s",
                        self.camera_id, path.name,
                        "moved to processed" if self.cfg.after == "move" else "deleted")
        try:
            if self.cfg.after == "delete":
                path.unlink()
                return None
            folder = self.processed / f"{utc(self.clock):%Y-%m-%d}"
            dest = move_file(path, folder, free_name(folder, path.name))
        except FileNotFoundError:
            log.info("camera %s: %s vanished before it was finished; nothing to do",
                     self.camera_id, path)
            return None
        self.prune_processed()
        return dest

    def quarantine(self, path: Path, reason: str, message: str) -> Path | None:
        """Move a rejected file to the quarantine with its reason; None if it vanished."""
        return self._quarantine.put(
            self.camera_id, path, reason, message, original=self.folder / path.name
        )

    def prune_processed(self) -> int:
        """Delete day folders in the processed folder older than ``keep_processed_days``."""
        if not self.processed.is_dir():
            return 0
        cutoff = f"{utc(self.clock) - timedelta(days=self.cfg.keep_processed_days):%Y-%m-%d}"
        old = [d for d in self.processed.iterdir() if d.is_dir() and _is_day(d.name)
               and d.name < cutoff]
        for d in old:
            shutil.rmtree(d, ignore_errors=True)
        if old:
            log.info("camera %s: deleted %d processed day folders older than %d days",
                     self.camera_id, len(old), self.cfg.keep_processed_days)
        return len(old)

    def _settled(self, now: datetime) -> list[str]:
        """Names complete by a file event or unchanged for ``settle_seconds``, oldest
        first; remembers the rest."""
        since = self._completions.generation()
        listing = self._listing()
        complete = self._completions.ready(listing, since)
        seen: dict[str, _Seen] = {}
        for name, size, mtime_ns in listing:
            prev = self._seen.get(name)
            unchanged = prev is not None and (prev.size, prev.mtime_ns) == (size, mtime_ns)
            start = prev.since if prev is not None and unchanged and prev.since <= now else now
            seen[name] = _Seen(size, mtime_ns, start)
        self._seen = seen  # files that vanished are forgotten here
        ready = [
            (s.mtime_ns, name) for name, s in seen.items()
            if name in complete or (now - s.since).total_seconds() >= self.cfg.settle_seconds
        ]
        return [name for _, name in sorted(ready)]

    def _listing(self) -> list[tuple[str, int, int]]:
        """(name, size, mtime_ns) of candidate files directly in the inbox."""
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            raise InboxUnavailable(
                f"camera {self.camera_id}: cannot list the inbox folder {self.folder}: "
                f"{exc.strerror or exc}; check that it exists and the agent can read it"
            ) from exc
        out = []
        for entry in entries:
            if not _wanted(self.cfg, entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            out.append((entry.name, st.st_size, st.st_mtime_ns))
        return out

    def _take(self, name: str) -> Path | None:
        """Claim a settled file by renaming it into the taken folder; None if it vanished."""
        self._seen.pop(name, None)
        try:
            return move_file(self.folder / name, self.taken, free_name(self.taken, name))
        except FileNotFoundError:
            log.info("camera %s: %s vanished before it could be taken", self.camera_id, name)
            return None


    def _start_events(self) -> InboxEvents | None:
        """File events for the inbox, or None (logged once) when they cannot be had."""
        try:
            events = InboxEvents.start(self.camera_id, self.folder, self._completions.arrived)
        except NotifyUnavailable as exc:
            self.fallback_reason = str(exc)
            log.warning("camera %s: no file events for the inbox %s: %s; it falls back to "
                        "polling every scan with the settle time (a file is taken once "
                        "unchanged for settle_seconds=%g s)", self.camera_id, self.folder,
                        exc, self.cfg.settle_seconds)
            return None
        self.fallback_reason = None
        weakref.finalize(self, events.close)
        return events

def _wanted(cfg: InboxSource, name: str) -> bool:
    """A candidate name: not hidden, not temporary, one of ``extensions`` (if any)."""
    if name.startswith(".") or name.endswith(TEMP_SUFFIXES):
        return False
    if not cfg.extensions:
        return True
    return name.rpartition(".")[2].lower() in cfg.extensions and "." in name


def _ensure_folder(camera_id: str, folder: Path) -> None:
    """Create ``folder`` if needed and check the agent may list, read and remove files in it."""
    user = getpass.getuser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InboxUnavailable(
            f"camera {camera_id}: the inbox {folder} exists but is not a folder; "
            "move that file away or point source.path elsewhere"
        ) from None
    except OSError as exc:
        raise InboxUnavailable(
            f"camera {camera_id}: cannot create or open the inbox folder {folder} as user {user}: "
            f"{exc.strerror or exc}; create it and give {user} write access, e.g. "
            f"sudo install -d -o {user} {folder}"
        ) from exc
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise InboxUnavailable(
            f"camera {camera_id}: user {user} may not read and remove files in the inbox "
            f"folder {folder} (permission denied); give it access, e.g. "
            f"sudo chown {user} {folder} or add {user} to the folder's group with g+rwx"
        )


def _oldest_first(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, "%Y-%m-%d")
    except ValueError:
        return False
    return True
