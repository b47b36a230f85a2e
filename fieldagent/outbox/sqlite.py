"""``SqliteOutbox``: the durable outbox, one SQLite database (WAL) plus a spool folder.

Durability choices (why each commit syncs the way it does):

* ``put``/``put_many``, ``give_up``, ``save_progress`` and corrupt-drops commit with
  ``synchronous=FULL``: the WAL is fsynced before the call returns, so an accepted item
  survives a power cut (the producer may delete its source file right after). A batch
  costs one fsync, not one per record. Spool files are fsynced, renamed and the spool
  directory fsynced *before* the row that points at them commits.
* ``lease``, ``nack``, ``release``, ``expire`` and ``recover`` commit with
  ``synchronous=NORMAL``: durable across a process crash; a power cut may roll back the
  last few, which only re-does harmless work (leases are reset at open anyway, a lost
  nack retries sooner, a lost expiry expires again).
* ``ack`` is FULL when the item had a spool file (the
  file is deleted right after the commit, so the commit must be on disk first) and NORMAL
  for inline items: a power cut may roll back a recent ack, the item is sent again, and
  the uplink's create-only write (``If-None-Match: *`` on a deterministic key) answers
  "already there", so nothing is duplicated.

That is ``sync="auto"`` (the default); ``sync="full"`` makes every commit FULL, for sites
that want every state change to survive a power cut at the cost of an fsync each.

One process owns an outbox directory (an ``flock`` on ``outbox.lock``); a second opener
gets ``OutboxLocked``. All methods are thread-safe (one lock, one connection).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import sqlite3
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal

from fieldagent.datadir import OutboxLayout
from fieldagent.outbox import quarantine
from fieldagent.outbox.admit import Admission, log_batch
from fieldagent.outbox.base import Clock, Outbox, system_clock
from fieldagent.outbox.model import (
    Item,
    ItemGone,
    Limits,
    NewItem,
    OutboxCorrupt,
    OutboxStats,
    PutResult,
    RecoveryReport,
    encode_json,
    to_us,
)
from fieldagent.outbox.schema import (
    COLUMNS,
    SCHEMA_VERSION,
    add_counter,
    create_schema,
    get_value,
    row_to_item,
    set_value,
)
from fieldagent.outbox.spool import Spool, SpoolMismatch
from fieldagent.outbox.sqlite_read import read_dead_letters, read_stats
from fieldagent.outbox.store import (
    connect,
    database_bytes,
    healing,
    lock_directory,
    open_or_heal,
    quarantine_database,
    unlock_directory,
)

log = logging.getLogger(__name__)


class SqliteOutbox(Outbox):
    """Durable outbox in ``directory`` (``outbox.db``, ``spool/``, ``quarantine/``: the
    names are ``fieldagent.datadir.OutboxLayout``'s).

    ``inline_max``: payloads up to this many bytes live in the database, bigger ones and
    every ``path`` item in spool files. ``done_retention``: how long delivered keys are
    remembered as duplicates. ``sync``: see the module docstring. ``dead_letters``: how
    many given-up items are kept for inspection. ``quarantine_bytes``: bound of the
    quarantine folder (the newest entry is always kept). Opening runs ``recover`` and
    heals a corrupt database; ``recovery_report`` says what it found.
    """

    def __init__(
        self,
        directory: Path,
        *,
        limits: Limits,
        clock: Clock | None = None,
        inline_max: int = 64 * 1024,
        done_retention: timedelta = timedelta(days=7),
        sync: Literal["auto", "full"] = "auto",
        dead_letters: int = 200,
        quarantine_bytes: int = 256 << 20,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._limits, self._clock = limits, clock or system_clock
        self._inline_max, self._retention_us = inline_max, int(done_retention.total_seconds() * 1e6)
        self._all_full = sync == "full"
        self._dead_max, self._q_bytes = dead_letters, quarantine_bytes
        self._lock = threading.RLock()
        files = OutboxLayout(self.directory)
        self._qdir, self._db_path = files.quarantine, files.db
        self._lock_fd = lock_directory(self.directory)
        try:
            self._spool = Spool(files.spool)
            now = self._clock()
            self._db, moved = open_or_heal(
                self._db_path, self._qdir, quarantine.stamp(now), create_schema, SCHEMA_VERSION
            )
            self._closed = False
            self._healed: Path | None = None
            report = self.recover(now=now)
        except BaseException:
            unlock_directory(self._lock_fd)
            raise
        self.recovery_report = dataclasses.replace(report, db_quarantined=moved or self._healed)

    def _tx(self, *, durable: bool) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.tx(durable=durable or self._all_full)

    # -- put -------------------------------------------------------------------------------
    @healing
    def put_many(self, items: Sequence[NewItem], *, now: datetime) -> list[PutResult]:
        now_us = to_us(now)
        metas = [encode_json(item.meta, "meta") for item in items]
        admit = Admission(self._spool, self._limits, self._inline_max, now_us)
        try:
            with self._tx(durable=True) as conn:
                admit.freed += self._expire_tx(conn, now_us)
                results = [
                    admit.put(conn, item, meta) for item, meta in zip(items, metas, strict=True)
                ]
                if admit.adopted:
                    self._spool.sync()
                self._db.give_back_space()
        except BaseException:
            self._spool.remove(admit.adopted)
            raise
        self._spool.remove(admit.freed)
        log_batch(results)
        return results

    # -- lease and endings -----------------------------------------------------------------
    @healing
    def lease(
        self,
        *,
        now: datetime,
        kinds: Collection[str] | None = None,
        limit: int = 1,
        lease_seconds: float = 300,
    ) -> list[Item]:
        now_us = to_us(now)
        if limit <= 0:
            return []
        kind_sql, kind_args = "", tuple[str, ...]()
        if kinds is not None:
            kind_args = tuple(kinds)
            kind_sql = f"AND kind IN ({', '.join('?' * len(kind_args))})"
        with self._tx(durable=False) as conn:
            conn.execute(
                "UPDATE items SET state = 'ready', leased_until_us = NULL "
                "WHERE state = 'leased' AND leased_until_us <= ?", (now_us,),
            )
            rows = conn.execute(
                "UPDATE items SET state = 'leased', leased_until_us = ? WHERE id IN ("
                "SELECT id FROM items WHERE state = 'ready' AND next_us <= ? "
                f"AND (expires_us IS NULL OR expires_us > ?) {kind_sql} "
                f"ORDER BY priority, created_us, id LIMIT ?) RETURNING {COLUMNS}",
                (now_us + int(lease_seconds * 1e6), now_us, now_us, *kind_args, limit),
            ).fetchall()
        items = [row_to_item(r) for r in rows]
        return sorted(items, key=lambda i: (i.priority, i.created_at, i.id))

    @healing
    def ack(self, item_id: int, *, now: datetime) -> None:
        self._ack([item_id], to_us(now))

    @healing
    def ack_many(self, item_ids: Iterable[int], *, now: datetime) -> None:
        self._ack(list(item_ids), to_us(now))

    def _ack(self, ids: list[int], now_us: int) -> None:
        durable = any(
            self._db.conn.execute(
                "SELECT 1 FROM items WHERE id = ? AND spool IS NOT NULL", (i,)
            ).fetchone()
            for i in ids
        )
        names = []
        with self._tx(durable=durable) as conn:
            for item_id in ids:
                row = conn.execute(
                    "DELETE FROM items WHERE id = ? RETURNING id, kind, key, size, spool",
                    (item_id,),
                ).fetchone()
                if row is None:
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO done (id, kind, key, size, done_us) "
                    "VALUES (?, ?, ?, ?, ?)", (*row[:4], now_us),
                )
                names.append(row[4])
        self._spool.remove(names)

    @healing
    def nack(self, item_id: int, *, now: datetime, retry_at: datetime, error: str) -> None:
        to_us(now)
        with self._tx(durable=False) as conn:
            conn.execute(
                "UPDATE items SET state = 'ready', leased_until_us = NULL, "
                "attempts = attempts + 1, next_us = ?, last_error = ? "
                "WHERE id = ? AND state = 'leased'", (to_us(retry_at), error, item_id),
            )

    @healing
    def release(self, item_id: int) -> None:
        with self._tx(durable=False) as conn:
            conn.execute(
                "UPDATE items SET state = 'ready', leased_until_us = NULL "
                "WHERE id = ? AND state = 'leased'", (item_id,),
            )

    @healing
    def give_up(self, item_id: int, *, now: datetime, error: str) -> None:
        now_us = to_us(now)
        with self._tx(durable=True) as conn:
            row = conn.execute(
                "DELETE FROM items WHERE id = ? "
                "RETURNING id, kind, key, size, attempts, created_us, meta, spool", (item_id,),
            ).fetchone()
            if row is None:
                return
            conn.execute(
                "INSERT OR REPLACE INTO dead_letters (id, kind, key, size, attempts, "
                "created_us, meta, given_up_us, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[:7], now_us, error),
            )
            conn.execute(
                "DELETE FROM dead_letters WHERE id NOT IN (SELECT id FROM dead_letters "
                "ORDER BY given_up_us DESC, id DESC LIMIT ?)", (self._dead_max,),
            )
            add_counter(conn, "drop:give_up")
        log.warning("outbox gave up on item %d (%s %s) after %d attempts: %s; it is kept in "
                    "the dead_letters table of %s", row[0], row[1], row[2], row[4], error,
                    self._db_path)
        self._spool.remove([row[7]])

    @healing
    def dead_letters(self) -> list[dict[str, Any]]:
        return read_dead_letters(self._db.conn)

    @healing
    def save_progress(self, item_id: int, progress: Mapping[str, Any]) -> None:
        text = encode_json(progress, "progress")
        with self._tx(durable=True) as conn:
            cur = conn.execute("UPDATE items SET progress = ? WHERE id = ?", (text, item_id))
        if cur.rowcount == 0:
            raise ItemGone(f"outbox item {item_id} is no longer held; stop uploading it")

    @healing
    def open_payload(self, item: Item) -> BinaryIO:
        row = self._db.conn.execute(
            "SELECT size, sha256, spool, data FROM items WHERE id = ?", (item.id,)
        ).fetchone()
        if row is None:
            raise ItemGone(f"outbox item {item.id} is no longer held; skip it")
        size, sha, spool, data = row
        try:
            if spool is not None:
                return self._spool.open_verified(spool, size, sha)
            if data is None or len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                raise SpoolMismatch("its inline payload does not match its recorded sha256")
            return io.BytesIO(data)
        except SpoolMismatch as exc:
            self._drop_corrupt([(item.id, spool, str(exc))])
            raise OutboxCorrupt(item.id, f"outbox item {item.id} ({item.key}): {exc}; it "
                                "was dropped (reason corrupt)") from exc

    def _drop_corrupt(self, bad: Sequence[tuple[int, str | None, str]]) -> None:
        """Quarantine the payload files of damaged items and drop their rows."""
        stamp = quarantine.stamp(self._clock())
        with self._tx(durable=True) as conn:
            for item_id, spool, problem in bad:
                row = conn.execute(
                    "DELETE FROM items WHERE id = ? RETURNING key", (item_id,)
                ).fetchone()
                add_counter(conn, "drop:corrupt")
                dest = self._spool.quarantine(spool, self._qdir, stamp) if spool else None
                log.warning(
                    "outbox item %d (%s) in %s is damaged: %s. Dropped it (reason corrupt); %s. "
                    "If this repeats, check the disk (dmesg, fsck, SD-card wear).",
                    item_id, row[0] if row else "?", self.directory, problem,
                    f"its file was moved to {dest}" if dest else "there was no file to keep",
                )
        quarantine.prune(self._qdir, self._q_bytes)

    # -- maintenance -----------------------------------------------------------------------
    @healing
    def expire(self, *, now: datetime) -> int:
        now_us = to_us(now)
        with self._tx(durable=False) as conn:
            names = self._expire_tx(conn, now_us)
            self._prune_tx(conn, now_us)
            self._db.give_back_space()
        self._spool.remove(names)
        return len(names)

    def _expire_tx(self, conn: sqlite3.Connection, now_us: int) -> list[str | None]:
        rows = conn.execute(
            "DELETE FROM items WHERE expires_us IS NOT NULL AND expires_us <= ? "
            "AND NOT (state = 'leased' AND leased_until_us > ?) RETURNING spool",
            (now_us, now_us),
        ).fetchall()
        if rows:
            add_counter(conn, "drop:expired", len(rows))
        return [r[0] for r in rows]

    def _prune_tx(self, conn: sqlite3.Connection, now_us: int) -> int:
        """Forget delivered keys past the retention; the last success time is read from
        ``done`` (an ack writes no extra page for it), so keep it before pruning."""
        latest = conn.execute("SELECT MAX(done_us) FROM done").fetchone()[0]
        if latest is not None:
            kept = get_value(conn, "last_success_us")
            set_value(conn, "last_success_us", max(int(kept or 0), latest))
        cur = conn.execute("DELETE FROM done WHERE done_us < ?", (now_us - self._retention_us,))
        return cur.rowcount

    @healing
    def stats(self, *, now: datetime) -> OutboxStats:
        disk = database_bytes(self._db_path) + self._spool.disk_bytes()
        return read_stats(self._db.conn, to_us(now), disk)

    @healing
    def recover(self, *, now: datetime) -> RecoveryReport:
        now_us = to_us(now)
        with self._tx(durable=False) as conn:
            leases = conn.execute(
                "UPDATE items SET state = 'ready', leased_until_us = NULL WHERE state = 'leased'"
            ).rowcount
            pruned = self._prune_tx(conn, now_us)
            self._db.give_back_space()
        orphans, dropped = self._reconcile_spool()
        quarantine.prune(self._qdir, self._q_bytes)
        if leases or orphans or dropped:
            log.info("outbox %s recovered after a restart: %d leases reset, %d orphan spool "
                     "files removed, %d items without payload dropped", self.directory,
                     leases, orphans, dropped)
        return RecoveryReport(leases, orphans, dropped, pruned)

    def _reconcile_spool(self) -> tuple[int, int]:
        """Files without a row are deleted; rows whose file is missing or has the wrong
        size are dropped as corrupt (a wrong-size file is quarantined first)."""
        files, temps = self._spool.scan()
        rows = self._db.conn.execute(
            "SELECT id, spool, size FROM items WHERE spool IS NOT NULL"
        ).fetchall()
        owned = {spool for _, spool, _ in rows}
        orphans = [name for name in files if name not in owned]
        self._spool.remove([*orphans, *(t.name for t in temps)])
        bad = [
            (item_id, spool, "its spool file is missing" if spool not in files
             else f"its spool file has {files[spool]} bytes, not {size}")
            for item_id, spool, size in rows if files.get(spool) != size
        ]
        if bad:
            self._drop_corrupt(bad)
        return len(orphans) + len(temps), len(bad)

    def _heal(self, exc: BaseException) -> None:
        """The database went bad while open: quarantine it and continue with a fresh one."""
        self._db.conn.close()
        now = self._clock()
        self._healed = quarantine_database(self._db_path, self._qdir, quarantine.stamp(now), exc)
        self._db = connect(self._db_path, create_schema, SCHEMA_VERSION)
        self._reconcile_spool()
        quarantine.prune(self._qdir, self._q_bytes)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            unlock_directory(self._lock_fd)
