"""The quarantine folder: damaged files are moved here for a person to inspect, not deleted.

It is bounded (``keep_bytes``, newest kept) so a store that keeps getting corrupted
cannot fill the disk with evidence; the newest entry is always kept.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from fieldagent.fsutil import fsync_dir

log = logging.getLogger(__name__)


def stamp(now: datetime) -> str:
    """A sortable UTC timestamp for quarantine names, e.g. ``20260601T060000Z``."""
    return now.strftime("%Y%m%dT%H%M%SZ")


def move_into(src: Path, qdir: Path, name: str) -> Path:
    """Move ``src`` to ``qdir/name`` (suffixed ``.1``, ``.2``... if taken); return the target."""
    qdir.mkdir(parents=True, exist_ok=True)
    dest = qdir / name
    n = 0
    while dest.exists():
        n += 1
        dest = qdir / f"{name}.{n}"
    os.replace(src, dest)
    os.utime(dest)  # mtime = when it was quarantined: ``prune`` keeps the newest
    fsync_dir(qdir)
    return dest


def prune(qdir: Path, keep_bytes: int) -> int:
    """Delete the oldest quarantined files beyond ``keep_bytes``; returns files removed."""
    if not qdir.is_dir():
        return 0
    entries = sorted(
        (p for p in qdir.iterdir() if p.is_file()),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
        reverse=True,
    )
    total, removed = 0, 0
    for i, path in enumerate(entries):
        total += path.stat().st_size
        if i > 0 and total > keep_bytes:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("outbox quarantine %s: removed %d oldest files to stay under %d bytes",
                 qdir, removed, keep_bytes)
    return removed

