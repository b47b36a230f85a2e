"""Admission of new items into ``SqliteOutbox``, inside the batch's one write transaction.

Per item: de-duplicate by key, plan the caps with the size we expect (so a put that
will be rejected never copies its file), stage the payload (inline, or a spool file
fsynced under a temporary name), re-plan if the file changed size while copied, apply
the evictions, insert the row, and give the spool file its final name. Spool files are
tracked so the caller can delete them if the transaction rolls back (``adopted``) or
after it commits (``freed``: payloads of evicted or expired items).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fieldagent.outbox.caps import Plan, plan_put
from fieldagent.outbox.model import Limits, NewItem, PutResult, to_us
from fieldagent.outbox.schema import SqlHoldings, add_counter, set_value
from fieldagent.outbox.spool import Spool, Staged

log = logging.getLogger(__name__)


@dataclass
class _Payload:
    size: int
    sha256: str
    data: bytes | None = None
    staged: Staged | None = None

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.tmp.unlink(missing_ok=True)


class Admission:
    """Admits the items of one ``put_many`` batch (one instance per transaction)."""

    def __init__(self, spool: Spool, limits: Limits, inline_max: int, now_us: int) -> None:
        self._spool = spool
        self._limits = limits
        self._inline_max = inline_max
        self._now_us = now_us
        self.adopted: list[str] = []
        self.freed: list[str | None] = []

    def put(self, conn: sqlite3.Connection, new: NewItem, meta: str) -> PutResult:
        dup = conn.execute(
            "SELECT id FROM items WHERE key = ? UNION ALL SELECT id FROM done WHERE key = ?",
            (new.key, new.key),
        ).fetchone()
        if dup is not None:
            return PutResult("duplicate", dup[0])
        payload: _Payload | None = None
        try:
            hint = len(new.data) if new.data is not None else Path(str(new.path)).stat().st_size
            plan = self._plan(conn, new, hint)
            if plan.accepted:
                payload = self._payload(new)
                if payload.size != hint:  # the file changed while we copied it
                    plan = self._plan(conn, new, payload.size)
        except OSError as exc:
            add_counter(conn, "drop:unreadable")
            return PutResult("rejected", None, f"cannot read {new.path}: {exc}")
        if payload is None or not plan.accepted:
            if payload is not None:
                payload.discard()
            add_counter(conn, "drop:cap_reject")
            return PutResult("rejected", None, plan.reject)
        try:
            return self._accept(conn, new, meta, payload, plan)
        except BaseException:
            payload.discard()
            raise

    def _plan(self, conn: sqlite3.Connection, new: NewItem, size: int) -> Plan:
        return plan_put(
            self._limits, SqlHoldings(conn, self._now_us), kind=new.kind,
            priority=new.priority, size=size,
        )

    def _payload(self, new: NewItem) -> _Payload:
        """Small ``data`` stays inline; larger data and every ``path`` item is spooled."""
        if new.data is not None and len(new.data) <= self._inline_max:
            return _Payload(len(new.data), hashlib.sha256(new.data).hexdigest(), data=new.data)
        if new.data is not None:
            staged = self._spool.stage_bytes(new.data)
        else:
            staged = self._spool.stage_file(Path(str(new.path)))
        return _Payload(staged.size, staged.sha256, staged=staged)

    def _accept(
        self, conn: sqlite3.Connection, new: NewItem, meta: str, payload: _Payload, plan: Plan
    ) -> PutResult:
        self.freed += self._evict(conn, plan)
        item_id = self._insert(conn, new, meta, payload)
        if payload.staged is not None:
            name = self._spool.adopt(payload.staged, item_id)
            self.adopted.append(name)
            conn.execute("UPDATE items SET spool = ? WHERE id = ?", (name, item_id))
        return PutResult("accepted", item_id, None, tuple(v.id for v, _ in plan.evict))

    def _evict(self, conn: sqlite3.Connection, plan: Plan) -> list[str | None]:
        names = []
        for victim, reason in plan.evict:
            row = conn.execute(
                "DELETE FROM items WHERE id = ? RETURNING spool", (victim.id,)
            ).fetchone()
            names.append(row[0] if row else None)
            add_counter(conn, f"drop:{reason}")
        for kind, (created, item_id) in plan.thin_cursors.items():
            set_value(conn, f"thin:{kind}", f"{created}:{item_id}")
        return names

    def _insert(self, conn: sqlite3.Connection, new: NewItem, meta: str, payload: _Payload) -> int:
        expires = None if new.expires_at is None else to_us(new.expires_at)
        cur = conn.execute(
            "INSERT INTO items (kind, key, priority, size, sha256, created_us, expires_us, "
            "state, next_us, meta, content_type, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?, ?, ?)",
            (new.kind, new.key, new.priority, payload.size, payload.sha256,
             to_us(new.created_at), expires, self._now_us, meta, new.content_type,
             payload.data),
        )
        return int(cur.lastrowid or 0)


def log_batch(results: Sequence[PutResult]) -> None:
    """One line per batch, not per item: a full outbox must not flood the log."""
    rejected = [r.reason for r in results if r.status == "rejected"]
    evicted = sum(len(r.evicted) for r in results)
    if rejected:
        log.warning("outbox rejected %d of %d new items (first: %s). The outbox is full "
                    "of items it may not evict: check that the uplink drains it, or raise "
                    "the caps in the policy; stats().drops counts every rejection",
                    len(rejected), len(results), rejected[0])
    if evicted:
        log.info("outbox evicted %d older items to make room for new ones", evicted)
