"""Moving files without losing or overwriting them.

Sources are the only writers of their processed, quarantine and snapshot folders, so
"pick a free name, then rename" cannot race with another writer. A rename across file
systems (inbox on a USB disk, data_dir on the SD card) becomes copy, sync, rename, unlink:
the file is complete under its new name before the original goes.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


def free_name(directory: Path, name: str, companion_suffixes: tuple[str, ...] = ()) -> str:
    """``name``, or ``stem-1.ext``, ``stem-2.ext``... : the first one not used in ``directory``.

    A name counts as used when it, or it plus any of ``companion_suffixes`` (such as
    ``.reason.json``), exists, so a file and its companions always match.
    """
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a hidden name such as ".x"
        stem, dot, ext = name, "", ""
    candidate, n = name, 0
    while any((directory / (candidate + s)).exists() for s in ("", *companion_suffixes)):
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    return candidate


def move_file(src: Path, directory: Path, name: str) -> Path:
    """Move ``src`` into ``directory`` as ``name`` (already free); return the new path.

    Raises ``FileNotFoundError`` when ``src`` is gone, so callers can tell a vanished
    file from a failed move.
    """
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / name
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_across(src, dest)
    fsync_dir(directory)
    return dest


def _copy_across(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        shutil.copy2(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    src.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see all of it or nothing."""
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make renames and creations in ``directory`` durable (POSIX needs the folder synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
