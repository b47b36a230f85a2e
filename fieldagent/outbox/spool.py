"""Spool files: payloads too big to keep inline in the database.

A payload is written to ``spool/.tmp-<random>``, fsynced, and only renamed to its final
name ``<item id>.bin`` (and the directory fsynced) *before* the database row that points
at it commits. So after any crash a committed row has its file; a file without a
committed row is an orphan that ``recover`` deletes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fieldagent.outbox.quarantine import fsync_dir, move_into

_CHUNK = 1 << 20
TMP_PREFIX = ".tmp-"
SUFFIX = ".bin"


@dataclass(frozen=True)
class Staged:
    """A payload written and fsynced under a temporary name, not yet owned by a row."""

    tmp: Path
    size: int
    sha256: str


class SpoolMismatch(Exception):
    """A spool file is missing or differs from what its row recorded."""


class Spool:
    """The spool directory of one outbox."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def stage_bytes(self, data: bytes) -> Staged:
        tmp = self._tmp_path()
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return Staged(tmp, len(data), hashlib.sha256(data).hexdigest())

    def stage_file(self, src: Path) -> Staged:
        """Copy ``src`` in chunks (bounded memory), hashing as it goes; OSError if unreadable."""
        tmp = self._tmp_path()
        digest, size = hashlib.sha256(), 0
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                while chunk := fin.read(_CHUNK):
                    digest.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
                fout.flush()
                os.fsync(fout.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Staged(tmp, size, digest.hexdigest())

    def adopt(self, staged: Staged, item_id: int) -> str:
        """Give a staged file its final name; the caller syncs the directory before commit."""
        name = f"{item_id:012d}{SUFFIX}"
        os.replace(staged.tmp, self.dir / name)
        return name

    def sync(self) -> None:
        fsync_dir(self.dir)

    def path(self, name: str) -> Path:
        return self.dir / name

    def open_verified(self, name: str, size: int, sha256: str) -> BinaryIO:
        """Open a payload after checking its size and sha256; SpoolMismatch otherwise."""
        try:
            f = open(self.dir / name, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError as exc:
            raise SpoolMismatch(f"spool file {self.dir / name} is missing") from exc
        try:
            _check(f, name, size, sha256)
        except BaseException:
            f.close()
            raise
        f.seek(0)
        return f

    def remove(self, names: Iterable[str | None]) -> None:
        for name in names:
            if name:
                (self.dir / name).unlink(missing_ok=True)

    def quarantine(self, name: str, qdir: Path, stamp: str) -> Path | None:
        src = self.dir / name
        if not src.exists():
            return None
        return move_into(src, qdir, f"{stamp}-spool-{name}")

    def scan(self) -> tuple[dict[str, int], list[Path]]:
        """Final payload files with their sizes, and leftover temporary files."""
        finals: dict[str, int] = {}
        temps: list[Path] = []
        with os.scandir(self.dir) as it:
            for entry in it:
                if entry.name.startswith(TMP_PREFIX):
                    temps.append(Path(entry.path))
                elif entry.name.endswith(SUFFIX) and entry.is_file():
                    finals[entry.name] = entry.stat().st_size
        return finals, temps

    def disk_bytes(self) -> int:
        finals, temps = self.scan()
        return sum(finals.values()) + sum(p.stat().st_size for p in temps if p.exists())

    def _tmp_path(self) -> Path:
        return self.dir / f"{TMP_PREFIX}{secrets.token_hex(8)}"


def _check(f: BinaryIO, name: str, size: int, sha256: str) -> None:
    actual = os.fstat(f.fileno()).st_size
    if actual != size:
        raise SpoolMismatch(f"spool file {name} has {actual} bytes, its record says {size}")
    digest = hashlib.sha256()
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise SpoolMismatch(f"spool file {name} does not match its recorded sha256")
