"""The quarantine: files the agent could not use, kept with the reason for a person to see.

Layout: ``<root>/<camera>/<stamp>-<original name>`` plus ``<that name>.reason.json`` holding
``reason``, ``message``, ``time``, ``camera`` and ``original_path``. The UTC stamp prefix
sorts entries by when they were quarantined, and names are never reused: a clash gets a
``-1``, ``-2``... suffix instead of overwriting.

It is bounded per camera (``keep_bytes``): a camera that sends a broken image every five
minutes for months must not fill the disk with evidence. The newest entry is always kept.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fieldagent.sources.clock import Clock, utc
from fieldagent.sources.files import free_name, move_file, write_atomic

log = logging.getLogger(__name__)

REASON_SUFFIX = ".reason.json"


class Quarantine:
    """Moves rejected files under ``root``, one folder per camera, each with its reason."""

    def __init__(self, root: Path, clock: Clock, keep_bytes: int) -> None:
        self.root = Path(root)
        self.clock = clock
        self.keep_bytes = keep_bytes

    def put(
        self, camera: str, path: Path, reason: str, message: str, *, original: Path | None = None
    ) -> Path | None:
        """Move ``path`` into the camera's folder with its reason file; return the new path.

        ``original`` is the path to record when ``path`` is a working copy (the inbox
        watcher's claimed file). Returns None when the file is already gone.
        """
        now = utc(self.clock)
        folder = self.root / camera
        folder.mkdir(parents=True, exist_ok=True)
        original = original or path
        name = free_name(folder, f"{now:%Y%m%dT%H%M%SZ}-{original.name}", (REASON_SUFFIX,))
        try:
            dest = move_file(path, folder, name)
        except FileNotFoundError:
            log.warning("camera %s: %s vanished before it could be quarantined (%s: %s)",
                        camera, original, reason, message)
            return None
        record = {
            "reason": reason,
            "message": message,
            "time": now.isoformat(),
            "camera": camera,
            "original_path": str(original),
        }
        write_atomic(folder / (name + REASON_SUFFIX), json.dumps(record, indent=2).encode())
        log.warning("camera %s: quarantined %s as %s: %s: %s",
                    camera, original, dest, reason, message, extra={"camera": camera})
        self.prune(camera)
        return dest

    def prune(self, camera: str) -> int:
        """Delete the camera's oldest entries beyond ``keep_bytes``; returns entries removed."""
        folder = self.root / camera
        entries = sorted(
            p for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(REASON_SUFFIX)
        )
        sizes = [_size(p) + _size(p.with_name(p.name + REASON_SUFFIX)) for p in entries]
        total, removed = sum(sizes), 0
        for path, size in zip(entries[:-1], sizes[:-1], strict=True):
            if total <= self.keep_bytes:
                break
            path.unlink(missing_ok=True)
            path.with_name(path.name + REASON_SUFFIX).unlink(missing_ok=True)
            total -= size
            removed += 1
        if removed:
            log.info("camera %s: removed the %d oldest quarantined files to stay under %d bytes",
                     camera, removed, self.keep_bytes)
        return removed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
