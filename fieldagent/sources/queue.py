"""Back-pressure between the cameras and the analysis: a bounded queue that sheds, never blocks.

Cameras do not wait. If analysis falls behind (a slow device, a burst after an outage),
waiting frames must not pile up in memory or stall the pollers, so ``put`` always returns
at once and the queue never holds more than ``maxsize`` items. When it is full one item is
shed: the oldest waiting one (``drop_oldest``: the newest picture matters most for alerts)
or the one being put (``drop_newest``: keep the sequence that is already queued).

The contract for shed items: ``put`` *returns* the shed item and the caller must dispose of
its file, since the queue only holds paths. For an inbox file that means
``InboxWatcher.finish(path, "shed")`` (handled like an analysed file, logged as shed) or
``quarantine(...)`` to keep it; for a snapshot, ``SnapshotPoller.finish``. Otherwise the
inbox watcher keeps the file marked as taken and it is never seen again. ``dropped()``
counts shed items per camera for the health report.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

Shed = Literal["drop_oldest", "drop_newest"]


@dataclass(frozen=True)
class WorkItem:
    """One frame waiting for analysis.

    ``captured_at`` is None for inbox files (the pipeline reads the EXIF time, else the
    file time) and the fetch time for HTTP snapshots.
    """

    camera: str
    path: Path
    captured_at: datetime | None


class FrameQueue:
    """A thread-safe bounded FIFO of ``WorkItem`` that sheds instead of blocking."""

    def __init__(self, maxsize: int, shed: Shed) -> None:
        if maxsize < 1:
            raise ValueError(f"queue size must be at least 1, got {maxsize}")
        if shed not in ("drop_oldest", "drop_newest"):
            raise ValueError(f"shed must be drop_oldest or drop_newest, got {shed!r}")
        self.maxsize = maxsize
        self.shed = shed
        self._items: deque[WorkItem] = deque()
        self._dropped: Counter[str] = Counter()
        self._ready = threading.Condition()

    def put(self, item: WorkItem) -> WorkItem | None:
        """Queue ``item``; return the item shed to make room (the caller disposes of it)."""
        with self._ready:
            shed: WorkItem | None = None
            if len(self._items) >= self.maxsize:
                shed = item if self.shed == "drop_newest" else self._items.popleft()
                self._dropped[shed.camera] += 1
            if shed is not item:
                self._items.append(item)
                self._ready.notify()
            return shed

    def get(self, timeout: float | None = None) -> WorkItem | None:
        """The oldest waiting item, waiting up to ``timeout`` seconds; None if none came."""
        with self._ready:
            if not self._ready.wait_for(lambda: bool(self._items), timeout):
                return None
            return self._items.popleft()

    def dropped(self) -> dict[str, int]:
        """Items shed so far, per camera."""
        with self._ready:
            return dict(self._dropped)

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)
