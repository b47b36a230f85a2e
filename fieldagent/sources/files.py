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

from fieldagent.fsutil import fsync_dir, write_atomic

__all__ = ["free_name", "fsync_dir", "move_file", "write_atomic"]


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


