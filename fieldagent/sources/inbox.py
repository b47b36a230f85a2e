"""The inbox: a folder a camera drops files into, by FTP/SFTP upload or a capture script.

When is a file finished? Writers differ: some upload under a temporary name and rename
(``.part``, ``.filepart``, ``.tmp``, ``~``, ``.crdownload``, or a hidden ``.name``), some
write in place, slowly. Linux cannot tell reliably whether another process still has a
file open for writing without inotify or fuser-style /proc scans (and FTP servers close
and reopen on resumed uploads), so **the settle rule is the contract**: a file is taken
once its size and modification time have not changed across scans for ``settle_seconds``
of the injected clock. A writer that pauses longer than that mid-file will be taken
half-written; the pipeline then rejects it as truncated and it is quarantined, not lost.
Set ``settle_seconds`` above the longest pause the camera's link makes. Settling starts
at the first scan that sees a file, so after a restart every file waits once more.

Taking a file renames it into ``<inbox>/.taken/`` at once (same folder, so an atomic
rename). A camera that reuses one file name cannot overwrite a frame still waiting in the
queue, and frames taken before a crash or restart are offered again by the first scan.

Only regular files directly in the folder count: sub-folders, symbolic links, hidden and
temporary names, and names outside ``extensions`` are left alone.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fieldagent.sources.clock import Clock, utc
from fieldagent.sources.errors import InboxUnavailable
from fieldagent.sources.files import free_name, move_file
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
    """Finds finished files in one camera's inbox and disposes of them after analysis."""

    def __init__(
        self, camera_id: str, cfg: InboxSource, clock: Clock, *, quarantine: Quarantine
    ) -> None:
        self.camera_id = camera_id
        self.cfg = cfg
        self.clock = clock
        self.folder = Path(cfg.path)
        self.processed = self.folder / cfg.processed_dir
        self._quarantine = quarantine
        self._seen: dict[str, _Seen] = {}
        _ensure_folder(camera_id, self.folder)
        self.taken = self.folder / TAKEN_DIR
        _ensure_folder(camera_id, self.taken)
        self._leftovers = _oldest_first(p for p in self.taken.iterdir() if p.is_file())
        if self._leftovers:
            log.info("camera %s: %d files taken before the last stop are offered again",
                     camera_id, len(self._leftovers))
        self.prune_processed()

    def scan(self) -> list[Path]:
        """Files that finished being written, oldest first; each is returned once.

        The returned paths are inside ``<inbox>/.taken/``; hand each back to ``finish``
        or ``quarantine``.
        """
        now = utc(self.clock)
        leftovers, self._leftovers = self._leftovers, []
        taken = (self._take(name) for name in self._settled(now))
        return leftovers + [p for p in taken if p is not None]

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
        """Names unchanged for ``settle_seconds``, oldest first; remembers the rest."""
        seen: dict[str, _Seen] = {}
        for name, size, mtime_ns in self._listing():
            prev = self._seen.get(name)
            unchanged = prev is not None and (prev.size, prev.mtime_ns) == (size, mtime_ns)
            since = prev.since if prev is not None and unchanged and prev.since <= now else now
            seen[name] = _Seen(size, mtime_ns, since)
        self._seen = seen  # files that vanished are forgotten here
        ready = [
            (s.mtime_ns, name) for name, s in seen.items()
            if (now - s.since).total_seconds() >= self.cfg.settle_seconds
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
            if not self._wanted(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            out.append((entry.name, st.st_size, st.st_mtime_ns))
        return out

    def _wanted(self, name: str) -> bool:
        if name.startswith(".") or name.endswith(TEMP_SUFFIXES):
            return False
        if not self.cfg.extensions:
            return True
        return name.rpartition(".")[2].lower() in self.cfg.extensions and "." in name

    def _take(self, name: str) -> Path | None:
        """Claim a settled file by renaming it into the taken folder; None if it vanished."""
        self._seen.pop(name, None)
        try:
            return move_file(self.folder / name, self.taken, free_name(self.taken, name))
        except FileNotFoundError:
            log.info("camera %s: %s vanished before it could be taken", self.camera_id, name)
            return None


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
