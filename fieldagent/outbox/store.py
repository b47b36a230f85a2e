"""The SQLite file underneath ``SqliteOutbox``: open it, check it, heal it, lock it.

A store that cannot be read is never a reason to crash-loop: a corrupt database
(``SQLITE_CORRUPT``/``SQLITE_NOTADB``, a failing ``PRAGMA integrity_check`` or a schema
this release does not know) is moved to ``quarantine/<timestamp>-outbox.db`` (with its
``-wal``/``-shm``), a WARNING says what was lost and where the file is, and a fresh
database takes its place. Errors that are not corruption (disk full, permissions, a
locked file) are raised as they are: moving the file would not fix them.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from fieldagent.datadir import OutboxLayout
from fieldagent.fsutil import try_lock, unlock
from fieldagent.outbox.model import OutboxError, OutboxLocked
from fieldagent.outbox.quarantine import move_into

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
WAL_LIMIT_BYTES = 1 << 20  # journal_size_limit: the WAL is truncated back to this after use
WAL_CHECKPOINT_PAGES = 256  # checkpoint every ~1 MiB of WAL: keeps the disk overhead small
FREE_PAGES_KEPT = 128  # free database pages kept for reuse before giving space back
_CORRUPTION_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)


P = ParamSpec("P")
R = TypeVar("R")


class Healable(Protocol):
    """What ``healing`` needs of the store it guards."""

    directory: Path
    _closed: bool

    @property
    def _lock(self) -> AbstractContextManager[Any]: ...

    def _heal(self, exc: BaseException) -> None: ...


S = TypeVar("S", bound=Healable)


def healing(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a store method under its lock; if the database turns out corrupt mid-run,
    quarantine it, start fresh and retry once, instead of failing every call from now on."""

    @functools.wraps(method)
    def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            if self._closed:
                raise OutboxError(f"the outbox in {self.directory} is closed")
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._heal(exc)
            return method(self, *args, **kwargs)

    return wrapper


class CorruptDatabase(sqlite3.DatabaseError):
    """The file opened but failed our own checks (integrity, schema version)."""


def is_corruption(exc: BaseException) -> bool:
    """True for errors that mean "this file is damaged", not "try again later"."""
    if isinstance(exc, CorruptDatabase):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and (
        code & 0xFF
    ) in _CORRUPTION_CODES


class Database:
    """One connection in autocommit mode with explicit ``BEGIN IMMEDIATE`` transactions."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._sync = "NORMAL"

    @contextmanager
    def tx(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` commits with ``synchronous=FULL`` (fsync of
        the WAL: survives a power cut), otherwise ``NORMAL`` (survives a process crash)."""
        level = "FULL" if durable else "NORMAL"
        if level != self._sync:
            self.conn.execute(f"PRAGMA synchronous={level}")
            self._sync = level
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.debug("rollback failed after an error", exc_info=True)
            raise

    def give_back_space(self) -> None:
        """Return free pages beyond a small reserve to the file system (incremental
        auto-vacuum), so delivered or evicted inline payloads stop occupying the disk."""
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free > 2 * FREE_PAGES_KEPT:
            self.conn.execute(f"PRAGMA incremental_vacuum({free - FREE_PAGES_KEPT})").fetchall()

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            log.debug("checkpoint at close failed", exc_info=True)
        self.conn.close()


def connect(path: Path, create: Callable[[sqlite3.Connection], None], version: int) -> Database:
    """Open and check the database; ``create`` builds the schema of a new file."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # auto_vacuum only takes on a file with no tables yet, so before anything else
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise CorruptDatabase("integrity_check failed: " + "; ".join(problems))
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found == 0:
            create(conn)
        elif found != version:
            raise CorruptDatabase(f"schema version {found}, this release reads {version}")
    except BaseException:
        conn.close()
        raise
    return Database(conn)


def open_or_heal(
    path: Path,
    qdir: Path,
    stamp: str,
    create: Callable[[sqlite3.Connection], None],
    version: int,
) -> tuple[Database, Path | None]:
    """Open the database; if it is corrupt, quarantine it and open a fresh one."""
    try:
        return connect(path, create, version), None
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        dest = quarantine_database(path, qdir, stamp, exc)
    return connect(path, create, version), dest


def quarantine_database(path: Path, qdir: Path, stamp: str, exc: BaseException) -> Path | None:
    """Move the database and its WAL/SHM aside and log what happened and what to do."""
    if not path.exists():
        return None
    spool = OutboxLayout(path.parent).spool
    payloads = sum(1 for _ in spool.glob("*.bin")) if spool.is_dir() else 0
    dest = move_into(path, qdir, f"{stamp}-{path.name}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, dest.with_name(dest.name + suffix))
            os.utime(dest.with_name(dest.name + suffix))
    log.warning(
        "outbox database %s is corrupt (%s). Moved it to %s and started an empty outbox so "
        "the agent keeps running. Lost: every item queued in it that had not been uploaded "
        "(%d spooled payload files lose their records and are deleted). Nothing to do to "
        "recover service; keep the quarantined file for diagnosis, check the disk "
        "(dmesg, fsck, SD-card wear) if this repeats, delete %s to reclaim space.",
        path, exc, dest, payloads, qdir,
    )
    return dest


def database_bytes(path: Path) -> int:
    """Bytes of the database with its WAL and shared-memory index."""
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return sum(p.stat().st_size for p in files if p.exists())


def lock_directory(directory: Path) -> int:
    """Take an exclusive lock on the outbox directory; the kernel drops it if we die."""
    fd = try_lock(OutboxLayout(directory).lock)
    if fd is None:
        raise OutboxLocked(
            f"another process has the outbox in {directory} open; only one fieldagent "
            "process may own an outbox (stop the other one or give this one its own directory)"
        )
    return fd


def unlock_directory(fd: int) -> None:
    unlock(fd)
