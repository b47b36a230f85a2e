"""Read-only queries of ``SqliteOutbox``: the numbers behind ``fieldagent status``."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fieldagent.outbox.model import (
    DROP_REASONS,
    OutboxStats,
    empty_stats_table,
    from_us,
    opt_from_us,
)


def read_stats(conn: sqlite3.Connection, now_us: int, disk_bytes: int) -> OutboxStats:
    """Counts and bytes by kind and state, oldest undelivered age, drops, last success."""
    held = conn.execute(
        "SELECT kind, state, COUNT(*), COALESCE(SUM(size), 0) FROM items GROUP BY kind, state"
    ).fetchall()
    done = conn.execute(
        "SELECT kind, 'done', COUNT(*), COALESCE(SUM(size), 0) FROM done GROUP BY kind"
    ).fetchall()
    table = empty_stats_table({row[0] for row in held + done})
    for kind, state, items, size in held + done:
        table[kind][state] = {"items": items, "bytes": size}
    oldest = conn.execute("SELECT MIN(created_us) FROM items").fetchone()[0]
    counters = dict(conn.execute("SELECT name, value FROM kv WHERE name LIKE 'drop:%'"))
    last = conn.execute(
        "SELECT MAX(t) FROM (SELECT MAX(done_us) AS t FROM done "
        "UNION ALL SELECT value FROM kv WHERE name = 'last_success_us')"
    ).fetchone()
    return OutboxStats(
        by_kind_state=table,
        total_bytes=sum(size for _, _, _, size in held),
        oldest_ready_age_s=None if oldest is None else (now_us - oldest) / 1e6,
        drops={reason: int(counters.get(f"drop:{reason}", 0)) for reason in DROP_REASONS},
        last_success_at=opt_from_us(None if last[0] is None else int(last[0])),
        disk_bytes=disk_bytes,
    )


def read_dead_letters(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The kept given-up items, newest first."""
    rows = conn.execute(
        "SELECT id, kind, key, size, attempts, error, meta, created_us, given_up_us "
        "FROM dead_letters ORDER BY given_up_us DESC, id DESC"
    ).fetchall()
    return [
        {"id": i, "kind": k, "key": key, "size": size, "attempts": attempts, "error": error,
         "meta": json.loads(meta), "created_at": from_us(created), "given_up_at": from_us(gone)}
        for i, k, key, size, attempts, error, meta, created, gone in rows
    ]
