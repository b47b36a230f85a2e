"""``DeliveryStore``: one SQLite file (WAL) that remembers every alert delivery until it is done.

Each submitted alert (key + state) is one ``alerts`` row holding its record and evidence
JPEG; each matching sink gets one ``deliveries`` row, ``pending -> delivered | failed``.
The ids are derived from the alert key, state and sink, so submitting the same alert twice
changes nothing. Every state change is one transaction committed with
``synchronous=FULL``: alerts are a handful a day, and a "delivered" that a power cut
rolled back would mean a second phone notification.

``sinks`` keeps each sink's health: consecutive failures, when it may be tried again,
the last error and the last success, so backoff and ``status`` survive a restart.
The evidence of an alert is dropped once no delivery needs it any more; finished rows are
pruned after ``history_days`` (until then a re-submission is still recognised).

A corrupt file is moved to ``quarantine/`` beside it and a fresh one started, so the agent
never crash-loops on it. One process owns a store: a second opener gets ``SinkStoreLocked``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldagent.alerts.rules import Alert
from fieldagent.datadir import lock_beside, quarantine_beside
from fieldagent.fsutil import try_lock, unlock
from fieldagent.outbox.quarantine import move_into, stamp
from fieldagent.outbox.store import Database, connect, is_corruption
from fieldagent.sinks.errors import SinkError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DDL = """
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,         -- alert_id(key, state)
    record TEXT NOT NULL,        -- Alert.to_dict() as JSON
    evidence_key TEXT,
    evidence BLOB,               -- JPEG, NULL once no pending delivery needs it
    created_us INTEGER NOT NULL
);
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order, kept per sink
    id TEXT NOT NULL UNIQUE,                -- delivery_id(key, state, sink)
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    sink TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    due_us INTEGER NOT NULL,     -- first moment it may go (the end of quiet hours)
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    finished_us INTEGER
);
CREATE INDEX deliveries_due ON deliveries (sink, status, seq);
CREATE INDEX deliveries_alert ON deliveries (alert_id, status);
CREATE TABLE sinks (
    id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,    -- consecutive failed attempts
    retry_at_us INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_us INTEGER,
    last_success_us INTEGER
) WITHOUT ROWID;
"""


class SinkStoreLocked(SinkError):
    """Another process delivers from the same store."""


def alert_id(key: str, state: str) -> str:
    """Stable id of one alert message (an episode's 'raised' or its 'resolved')."""
    return hashlib.sha256(f"{key}|{state}".encode()).hexdigest()[:32]


def delivery_id(key: str, state: str, sink: str) -> str:
    """Stable id of one alert message to one sink; also the webhook ``Idempotency-Key``."""
    return hashlib.sha256(f"{key}|{state}|{sink}".encode()).hexdigest()[:32]


def to_us(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def from_us(us: int | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / 1_000_000, UTC)


def alert_from_record(record: dict[str, Any]) -> Alert:
    """Rebuild the ``Alert`` that ``Alert.to_dict()`` wrote."""
    fields = {k: v for k, v in record.items() if k != "key"}
    fields["at"] = datetime.fromisoformat(fields["at"])
    fields["since"] = datetime.fromisoformat(fields["since"])
    return Alert(**fields)


@dataclass(frozen=True)
class Delivery:
    """One alert message on its way to one sink."""

    id: str
    seq: int
    sink: str
    alert: Alert
    evidence: bytes | None
    evidence_key: str | None
    attempts: int
    due: datetime


@dataclass(frozen=True)
class SinkHealth:
    """What the store remembers about one sink between attempts."""

    failures: int
    retry_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None


class DeliveryStore:
    """The durable delivery queue; thread-safe (one lock, one connection)."""

    def __init__(self, path: Path, now: datetime) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _take_lock(path)
        self._lock = threading.Lock()
        try:
            self._db = _open_or_heal(path, now)
        except BaseException:
            unlock(self._lock_fd)
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
            unlock(self._lock_fd)

    def add(
        self,
        alert: Alert,
        sinks: Sequence[str],
        due: datetime,
        evidence: bytes | None,
        evidence_key: str | None,
        now: datetime,
    ) -> list[str]:
        """Record one delivery per sink in one transaction; returns the sinks newly added."""
        aid = alert_id(alert.key, alert.state)
        with self._lock, self._db.tx(durable=True) as conn:
            added = [
                sink
                for sink in sinks
                if conn.execute(
                    "INSERT OR IGNORE INTO deliveries (id, alert_id, sink, status, due_us) "
                    "VALUES (?, ?, ?, 'pending', ?)",
                    (delivery_id(alert.key, alert.state, sink), aid, sink, to_us(due)),
                ).rowcount
            ]
            conn.execute(
                "INSERT INTO alerts (id, record, evidence_key, evidence, created_us) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (aid, json.dumps(alert.to_dict()), evidence_key,
                 evidence if added else None, to_us(now)),
            )
        return added

    def next_due(self, sink: str, now: datetime, after_seq: int) -> Delivery | None:
        """The oldest pending delivery of ``sink`` that may go now, past ``after_seq``."""
        with self._lock:
            row = self._db.conn.execute(
                "SELECT d.id, d.seq, d.sink, a.record, a.evidence, a.evidence_key, d.attempts, "
                "d.due_us FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                "WHERE d.sink = ? AND d.status = 'pending' AND d.seq > ? AND d.due_us <= ? "
                "ORDER BY d.seq LIMIT 1",
                (sink, after_seq, to_us(now)),
            ).fetchone()
        if row is None:
            return None
        due = from_us(row[7])
        assert due is not None
        return Delivery(row[0], row[1], row[2], alert_from_record(json.loads(row[3])),
                        row[4], row[5], row[6], due)

    def delivered(self, delivery: Delivery, now: datetime) -> None:
        """Mark one delivery done and the sink healthy, in one transaction."""
        with self._lock, self._db.tx(durable=True) as conn:
            self._finish(conn, delivery.id, "delivered", None, now)
            conn.execute(
                "INSERT INTO sinks (id, last_success_us) VALUES (?, ?) ON CONFLICT (id) DO "
                "UPDATE SET failures = 0, retry_at_us = 0, last_success_us = excluded."
                "last_success_us",
                (delivery.sink, to_us(now)),
            )

    def rejected(self, delivery: Delivery, error: str, now: datetime) -> None:
        """The receiver refused this delivery for good: record why. It did answer, so the
        sink is reachable and its backoff ends (the next delivery may well be accepted)."""
        with self._lock, self._db.tx(durable=True) as conn:
            self._finish(conn, delivery.id, "failed", error, now)
            self._note_error(conn, delivery.sink, error, now)
            conn.execute("UPDATE sinks SET failures = 0, retry_at_us = 0 WHERE id = ?",
                         (delivery.sink,))

    def attempt_failed(
        self, delivery: Delivery, error: str, now: datetime, retry_at: datetime,
        give_up_due_before: datetime, give_up_note: str,
    ) -> int:
        """A temporary failure: back the sink off until ``retry_at``; deliveries of this sink
        due before ``give_up_due_before`` are given up (``failed``). Returns how many were."""
        with self._lock, self._db.tx(durable=True) as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error, delivery.id),
            )
            stale = [r[0] for r in conn.execute(
                "SELECT id FROM deliveries WHERE sink = ? AND status = 'pending' AND due_us < ?",
                (delivery.sink, to_us(give_up_due_before)),
            )]
            for did in stale:
                self._finish(conn, did, "failed", f"{give_up_note}: {error}", now)
            self._note_error(conn, delivery.sink, error, now)
            conn.execute(
                "UPDATE sinks SET failures = failures + 1, retry_at_us = ? WHERE id = ?",
                (to_us(retry_at), delivery.sink),
            )
        return len(stale)

    def fail_unknown_sinks(self, known: Collection[str], now: datetime) -> int:
        """Give up pending deliveries to sinks that are no longer configured."""
        with self._lock, self._db.tx(durable=True) as conn:
            rows = conn.execute(
                "SELECT id, sink FROM deliveries WHERE status = 'pending'"
            ).fetchall()
            gone = [(did, sink) for did, sink in rows if sink not in known]
            for did, sink in gone:
                self._finish(conn, did, "failed",
                             f"sink {sink!r} is no longer in the config", now)
        return len(gone)

    def health(self, sink: str) -> SinkHealth:
        with self._lock:
            row = self._db.conn.execute(
                "SELECT failures, retry_at_us, last_error, last_error_us, last_success_us "
                "FROM sinks WHERE id = ?", (sink,),
            ).fetchone()
        if row is None:
            return SinkHealth(0, None, None, None, None)
        return SinkHealth(row[0], from_us(row[1] or None), row[2], from_us(row[3]),
                          from_us(row[4]))

    def counts(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Per sink: deliveries by status, pending ones still held, the oldest pending due."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            rows = self._db.conn.execute(
                "SELECT sink, status, count(*), sum(due_us > ?), min(due_us) FROM deliveries "
                "GROUP BY sink, status", (to_us(now),),
            ).fetchall()
        for sink, status, n, held, oldest in rows:
            entry = out.setdefault(sink, {"pending": 0, "delivered": 0, "failed": 0,
                                          "held": 0, "oldest_pending_due": None})
            entry[status] = n
            if status == "pending":
                entry["held"], entry["oldest_pending_due"] = int(held or 0), from_us(oldest)
        return out

    def prune(self, finished_before: datetime) -> int:
        """Forget finished deliveries (and alerts with none left) older than the cut-off."""
        cut = to_us(finished_before)
        with self._lock:
            with self._db.tx(durable=False) as conn:
                n = conn.execute(
                    "DELETE FROM deliveries WHERE status != 'pending' AND finished_us < ?",
                    (cut,),
                ).rowcount
                conn.execute(
                    "DELETE FROM alerts WHERE created_us < ? AND NOT EXISTS "
                    "(SELECT 1 FROM deliveries d WHERE d.alert_id = alerts.id)", (cut,),
                )
            self._db.give_back_space()
        return n

    @staticmethod
    def _finish(
        conn: sqlite3.Connection, did: str, status: str, error: str | None, now: datetime
    ) -> None:
        conn.execute(
            "UPDATE deliveries SET status = ?, last_error = coalesce(?, last_error), "
            "finished_us = ? WHERE id = ?",
            (status, error, to_us(now), did),
        )
        conn.execute(
            "UPDATE alerts SET evidence = NULL WHERE id = (SELECT alert_id FROM deliveries "
            "WHERE id = ?) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = "
            "alerts.id AND d.status = 'pending')",
            (did,),
        )

    @staticmethod
    def _note_error(conn: sqlite3.Connection, sink: str, error: str, now: datetime) -> None:
        conn.execute(
            "INSERT INTO sinks (id, last_error, last_error_us) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET last_error = excluded.last_error, "
            "last_error_us = excluded.last_error_us",
            (sink, error, to_us(now)),
        )


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in DDL.split(";"):  # no trigger bodies here: ';' ends every statement
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _open_or_heal(path: Path, now: datetime) -> Database:
    try:
        return connect(path, _create, SCHEMA_VERSION)
    except sqlite3.DatabaseError as err:
        if not is_corruption(err):
            raise
        exc = err  # the name bound by ``except`` is cleared when the block ends
    dest = move_into(path, quarantine_beside(path), f"{stamp(now)}-{path.name}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, dest.with_name(dest.name + suffix))
    log.warning(
        "alert delivery store %s is corrupt (%s). Moved it to %s and started an empty one so "
        "alerts keep flowing. Lost: deliveries that were still pending in it (they are not "
        "resent). Keep the quarantined file for diagnosis; check the disk if this repeats.",
        path, exc, dest,
    )
    return connect(path, _create, SCHEMA_VERSION)


def _take_lock(path: Path) -> int:
    fd = try_lock(lock_beside(path))
    if fd is None:
        raise SinkStoreLocked(
            f"another process is delivering alerts from {path}; only one fieldagent process "
            "may own it (stop the other one or give this one its own data_dir)"
        )
    return fd
