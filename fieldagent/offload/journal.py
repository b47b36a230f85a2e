"""The signal-record journal: where accepted records wait until their batch is in the outbox.

Why a journal beside the outbox: the outbox holds *objects to upload*, and its kinds are
fixed; an open batch is neither. Keeping the open batch only in memory would lose up to
``batching.max_age`` of records on a crash, and writing each record as its own outbox item
would upload thousands of tiny objects. So every ``add`` is one SQLite transaction here
(one fsync for the whole call, none per record), and a batch moves to the outbox in three
steps, each safe to interrupt:

1. ``seal``: the batch's records get a batch number, durably (one fsync). From here on the
   batch's content is fixed, whatever happens.
2. the batcher puts the batch object into the outbox (its own fsync). Its key is derived
   from the content, so putting it again after a crash is an outbox ``duplicate``.
3. ``forget``: the sealed records are deleted (no fsync needed: if a power cut undoes it,
   step 2 is repeated and answered ``duplicate``).

On open, sealed batches are handed back (``sealed``) to be put again, and open records
(``open_records``) reload the batch being filled. A journal file that SQLite says is
corrupt is moved aside (``<name>.corrupt-<stamp>``) and a fresh one started, with a
WARNING: a damaged file must not crash-loop the agent.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fieldagent.outbox.model import from_us, to_us

log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at_us INTEGER NOT NULL, ts_us INTEGER NOT NULL, line TEXT NOT NULL, batch INTEGER)",
    "CREATE INDEX IF NOT EXISTS records_batch ON records (batch, seq)",
    "CREATE TABLE IF NOT EXISTS batches (no INTEGER PRIMARY KEY AUTOINCREMENT, "
    "sealed_us INTEGER NOT NULL)",
    # one row per image whose records were accepted: a file offered again (a crash before
    # its source file was finished) is recognised by content and never journalled twice
    "CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, "
    "camera TEXT NOT NULL, file TEXT NOT NULL, outcome TEXT NOT NULL, at_us INTEGER NOT NULL) "
    "WITHOUT ROWID",
    # each camera's analysis state as of its last accepted image, committed with it
    "CREATE TABLE IF NOT EXISTS checkpoints (camera TEXT PRIMARY KEY, state TEXT NOT NULL, "
    "at_us INTEGER NOT NULL) WITHOUT ROWID",
)


@dataclass(frozen=True)
class ImageMark:
    """An image whose records are being accepted: its ledger key (``ImageRef.ledger_key``),
    content hash, camera and file name, and its outcome (``ok`` or why it was rejected)."""

    key: str
    sha256: str
    camera: str
    file: str
    outcome: str


@dataclass(frozen=True)
class Record:
    """One accepted record: its canonical JSON line, its own time and when it was accepted."""

    seq: int
    line: str
    ts: datetime
    accepted_at: datetime


@dataclass(frozen=True)
class SealedBatch:
    """A batch whose content is fixed; it still has to reach the outbox."""

    no: int
    sealed_at: datetime
    records: tuple[Record, ...]


class RecordJournal:
    """Durable staging of signal records (module docstring). ``path=None``: in memory,
    for tests that do not care about crashes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return _connect(":memory:")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _connect(str(self.path))
        except sqlite3.DatabaseError as exc:
            moved = _move_aside(self.path, exc)
            log.warning(
                "signal journal %s is corrupt (%s): moved it to %s and started an empty one. "
                "Records accepted but not yet batched in it are lost; keep the file for "
                "diagnosis and check the disk if this repeats.", self.path, exc, moved,
            )
            return _connect(str(self.path))

    @contextmanager
    def _tx(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def append(
        self,
        rows: Sequence[tuple[str, datetime]],
        *,
        now: datetime,
        image: ImageMark | None = None,
        checkpoint: tuple[str, str] | None = None,
    ) -> list[Record]:
        """Store records (line, own time) in one durable transaction; return them numbered.

        With ``image``, the same transaction marks the image as handled, and nothing is
        stored if it already was (an empty list is returned): a file analysed again after
        a crash adds no record twice. ``checkpoint`` (camera, state JSON) is that camera's
        analysis state after the image, committed with its records so a restart resumes
        exactly after the last image whose records were kept.
        """
        now_us = to_us(now)
        out: list[Record] = []
        with self._tx(durable=True) as conn:
            if image is not None:
                added = conn.execute(
                    "INSERT OR IGNORE INTO images (key, sha256, camera, file, outcome, at_us) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (image.key, image.sha256, image.camera, image.file, image.outcome,
                     now_us)).rowcount
                if not added:
                    return []
            if checkpoint is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (camera, state, at_us) VALUES (?, ?, ?)",
                    (*checkpoint, now_us))
            for line, ts in rows:
                cur = conn.execute(
                    "INSERT INTO records (at_us, ts_us, line) VALUES (?, ?, ?)",
                    (now_us, to_us(ts), line),
                )
                out.append(Record(int(cur.lastrowid or 0), line, ts, now))
        return out

    def seal(self, seqs: Sequence[int], *, now: datetime) -> SealedBatch:
        """Fix a batch's membership durably (step 1) and return it."""
        with self._tx(durable=True) as conn:
            no = int(conn.execute(
                "INSERT INTO batches (sealed_us) VALUES (?)", (to_us(now),)
            ).lastrowid or 0)
            conn.executemany(
                "UPDATE records SET batch = ? WHERE seq = ? AND batch IS NULL",
                [(no, s) for s in seqs],
            )
        return self._batch(no, now)

    def forget(self, batch_no: int) -> None:
        """The batch is in the outbox: drop its records (step 3)."""
        with self._tx(durable=False) as conn:
            conn.execute("DELETE FROM records WHERE batch = ?", (batch_no,))
            conn.execute("DELETE FROM batches WHERE no = ?", (batch_no,))

    def sealed(self) -> list[SealedBatch]:
        """Batches sealed but not yet forgotten (a crash came between steps 1 and 3)."""
        with self._lock:
            rows = self._conn.execute("SELECT no, sealed_us FROM batches ORDER BY no").fetchall()
        return [self._batch(no, from_us(sealed)) for no, sealed in rows]

    def open_records(self) -> list[Record]:
        """Records not in any batch yet, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, line, ts_us, at_us FROM records WHERE batch IS NULL ORDER BY seq"
            ).fetchall()
        return [Record(s, line, from_us(ts), from_us(at)) for s, line, ts, at in rows]

    def _batch(self, no: int, sealed_at: datetime) -> SealedBatch:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, line, ts_us, at_us FROM records WHERE batch = ? ORDER BY seq", (no,)
            ).fetchall()
        records = tuple(Record(s, line, from_us(ts), from_us(at)) for s, line, ts, at in rows)
        return SealedBatch(no, sealed_at, records)

    def handled(self, key: str) -> ImageMark | None:
        """The mark of an image whose records were already accepted, else None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT key, sha256, camera, file, outcome FROM images WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else ImageMark(*row)

    def checkpoints(self) -> dict[str, str]:
        """Each camera's state JSON as of its last accepted image."""
        with self._lock:
            rows = self._conn.execute("SELECT camera, state FROM checkpoints").fetchall()
        return {str(c): str(s) for c, s in rows}

    def forget_images(self, before: datetime) -> int:
        """Drop image marks older than ``before``; an identical file arriving after that is
        analysed as new. Returns how many were dropped."""
        with self._tx(durable=False) as conn:
            return int(conn.execute("DELETE FROM images WHERE at_us < ?",
                                    (to_us(before),)).rowcount)

    def integrity(self) -> list[str]:
        """``PRAGMA integrity_check`` of the journal (``["ok"]`` when healthy)."""
        with self._lock:
            return [str(r[0]) for r in self._conn.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _connect(target: str) -> sqlite3.Connection:
    conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10)
    try:
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        if target != ":memory:":
            problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("quick_check failed: " + "; ".join(problems))
        for statement in _DDL:
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


def _move_aside(path: Path, exc: BaseException) -> Path:
    dest = path.with_name(f"{path.name}.corrupt-{secrets.token_hex(4)}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, dest.with_name(dest.name + suffix))
    return dest
