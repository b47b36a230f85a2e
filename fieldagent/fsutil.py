"""Durable file operations shared by every part that keeps state on disk.

POSIX makes a rename durable only once the folder holding it is fsynced, and a file's
content only once the file is; a power cut in a hot cabinet must leave the old or the new
version, never half of one. One exclusive lock file per store keeps a second agent
process off state the first one owns; the kernel drops it when the process dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

# One fsync_dir for every store on disk; it lives with the object-store seam, which
# imports nothing of the agent's.
from objectstore.localfs import fsync_dir as fsync_dir


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: hidden temp file, fsync, rename, fsync the folder.
    Readers see the old content or all of the new, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def try_lock(lock_path: Path) -> int | None:
    """An exclusive, non-blocking lock on ``lock_path`` (created): the descriptor to keep
    open while owning it, or None if another process holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
