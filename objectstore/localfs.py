"""Create-only and atomic writes into a local folder, with POSIX tools.

* ``create_new``: the bytes go to a temporary file in ``<root>/.tmp`` that is fsynced, then
  hard-linked to the key's path. ``link`` fails if the path exists, so an existing object
  is never replaced, two writers racing for one key have exactly one winner, and a crash
  leaves either no object or a complete one (never a torn file).
* ``replace``: the same temp file, renamed over the key's path.

Callers check that ``root`` exists first: when a removable disk is not mounted, writing
into the empty mount point would silently fill the machine's own disk instead. These
functions raise ``OSError``; each side translates it into its own errors.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from objectstore.keys import TMP, check_key, is_local_state

_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def fsync_dir(directory: Path) -> None:
    """Make renames and creations in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(root: Path) -> Path:
    """A fresh name in ``<root>/.tmp``, on the objects' filesystem so links work.

    ``.tmp`` is made without parents: a missing root raises instead of being created.
    """
    folder = root / TMP
    folder.mkdir(exist_ok=True)
    return folder / uuid.uuid4().hex


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` (never an existing one) and fsync it."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_temp(root: Path, data: bytes) -> Path:
    """``data`` in a fresh, fsynced temp file under ``root``; the caller links or drops it."""
    tmp = temp_path(root)
    try:
        write_file(tmp, data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def link_new(tmp: Path, final: Path) -> bool:
    """Give the complete temp file ``tmp`` the name ``final`` unless it exists; drop ``tmp``.

    Returns whether ``final`` was created; its folder is fsynced when it was.
    """
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        created = link_no_replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    if created:
        fsync_dir(final.parent)
    return created


def create_new(root: Path, key: str, data: bytes) -> bool:
    """Create object ``key`` under ``root`` with ``data``; False if it already exists."""
    final = root / check_key(key)
    return link_new(write_temp(root, data), final)


def replace(root: Path, key: str, data: bytes) -> None:
    """Write object ``key`` under ``root``, replacing it atomically if it exists."""
    final = root / check_key(key)
    tmp = write_temp(root, data)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(final.parent)


def link_no_replace(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` to ``dst``; False if ``dst`` exists. Falls back where links fail."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    # Filesystems without hard links (FAT on a USB stick): O_EXCL claims the name, then
    # the complete temp file replaces the empty claim. A crash in between leaves an empty
    # file, which the next write repairs because its size cannot be right.
    try:
        os.close(os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        if dst.stat().st_size > 0:
            return False
    os.replace(src, dst)
    return True


def walk_keys(root: Path, start: Path | None = None) -> Iterator[str]:
    """Every object key under ``start`` (default ``root``), skipping the store's own state."""
    for dirpath, dirnames, filenames in os.walk(start or root):
        dirnames[:] = [d for d in dirnames if not is_local_state(d)]
        rel = Path(dirpath).relative_to(root)
        for name in filenames:
            if not is_local_state(name):
                yield (rel / name).as_posix()
