"""DDL and row mapping of ``SqliteOutbox`` (kept beside it, split out for size).

Layout: ``items`` holds undelivered items (ready or leased) with small payloads inline;
delivered ones move to ``done`` (key, size, time) so a re-put of their key stays a
duplicate for the retention window; ``usage`` is kept exact by triggers so a cap check
costs one tiny read instead of a scan; ``kv`` holds drop counters, the last success and
thinning cursors; ``dead_letters`` keeps the last given-up items for inspection.
Times are integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

from fieldagent.outbox.caps import OrderKey, Victim
from fieldagent.outbox.model import Item, from_us, opt_from_us

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale id cannot hit a new item
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    priority INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('ready', 'leased')),
    next_us INTEGER NOT NULL,
    leased_until_us INTEGER,
    last_error TEXT,
    meta TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '{}',
    content_type TEXT NOT NULL,
    spool TEXT,        -- file name in spool/ when the payload is not inline
    data BLOB          -- last column: scans never read the overflow pages of a payload
);
CREATE INDEX items_lease ON items (state, priority, created_us, id);
CREATE INDEX items_evict ON items (kind, priority, created_us, id);
CREATE INDEX items_expiry ON items (expires_us) WHERE expires_us IS NOT NULL;
CREATE TABLE done (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL, done_us INTEGER NOT NULL
);
CREATE INDEX done_age ON done (done_us);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,
    attempts INTEGER NOT NULL, created_us INTEGER NOT NULL, given_up_us INTEGER NOT NULL,
    error TEXT NOT NULL, meta TEXT NOT NULL
);
CREATE TABLE usage (
    kind TEXT NOT NULL, priority INTEGER NOT NULL, items INTEGER NOT NULL,
    bytes INTEGER NOT NULL, PRIMARY KEY (kind, priority)
) WITHOUT ROWID;
CREATE TABLE kv (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TRIGGER items_usage_in AFTER INSERT ON items BEGIN
    INSERT INTO usage (kind, priority, items, bytes) VALUES (new.kind, new.priority, 1, new.size)
    ON CONFLICT (kind, priority) DO UPDATE SET items = items + 1, bytes = bytes + new.size;
END;
CREATE TRIGGER items_usage_out AFTER DELETE ON items BEGIN
    UPDATE usage SET items = items - 1, bytes = bytes - old.size
    WHERE kind = old.kind AND priority = old.priority;
END;
"""

COLUMNS = (
    "id, kind, key, priority, size, sha256, created_us, expires_us, attempts, state, "
    "next_us, leased_until_us, last_error, meta, progress, content_type"
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Build the tables of a new database (``connect`` has set incremental auto-vacuum)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(DDL):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(ddl: str) -> Iterator[str]:
    """Split the DDL on statement ends, keeping trigger bodies whole."""
    buf: list[str] = []
    for line in ddl.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf)
        if line.rstrip().endswith(";") and sqlite3.complete_statement(text):
            yield text
            buf = []


def row_to_item(row: tuple[Any, ...]) -> Item:
    """An ``Item`` from a row selected with ``COLUMNS``."""
    (item_id, kind, key, priority, size, sha, created, expires, attempts, state, next_us,
     leased_until, last_error, meta, progress, content_type) = row
    return Item(
        id=item_id, kind=kind, key=key, priority=priority, size=size, sha256=sha,
        created_at=from_us(created), expires_at=opt_from_us(expires), attempts=attempts,
        state=state, next_attempt_at=from_us(next_us), leased_until=opt_from_us(leased_until),
        last_error=last_error, meta=_json(meta), progress=_json(progress),
        content_type=content_type,
    )


def _json(text: str) -> dict[str, Any]:
    return {} if text == "{}" else dict(json.loads(text))


def add_counter(conn: sqlite3.Connection, name: str, by: int = 1) -> None:
    conn.execute(
        "INSERT INTO kv (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        (name, by),
    )


def set_value(conn: sqlite3.Connection, name: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO kv (name, value) VALUES (?, ?)", (name, value))


def get_value(conn: sqlite3.Connection, name: str) -> Any:
    row = conn.execute("SELECT value FROM kv WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


class SqlHoldings:
    """The cap planner's view of the database inside the current write transaction."""

    def __init__(self, conn: sqlite3.Connection, now_us: int) -> None:
        self._conn = conn
        self._now_us = now_us

    def usage(self) -> Mapping[tuple[str, int], int]:
        rows = self._conn.execute("SELECT kind, priority, bytes FROM usage WHERE items > 0")
        return {(k, p): b for k, p, b in rows}

    def victims(self, kind: str, priority: int) -> Iterator[Victim]:
        """Evictable items oldest first, fetched in growing pages (keyset pagination), so
        a put that needs one eviction reads a few rows, not the whole kind."""
        after: OrderKey = (-(2**62), 0)
        page = 16  # most puts need one or two victims; grow the page if they need more
        while True:
            rows = self._conn.execute(
                "SELECT id, size, created_us FROM items WHERE kind = ? AND priority = ? "
                "AND (state = 'ready' OR leased_until_us <= ?) AND (created_us, id) > (?, ?) "
                "ORDER BY created_us, id LIMIT ?",
                (kind, priority, self._now_us, *after, page),
            ).fetchall()
            for item_id, size, created in rows:
                yield Victim(item_id, kind, priority, size, created)
            if len(rows) < page:
                return
            after = (rows[-1][2], rows[-1][0])
            page = min(page * 4, 1024)

    def thin_cursor(self, kind: str) -> OrderKey | None:
        value = get_value(self._conn, f"thin:{kind}")
        if not value:
            return None
        created, item_id = str(value).split(":")
        return (int(created), int(item_id))
