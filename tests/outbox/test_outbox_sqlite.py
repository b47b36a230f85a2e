"""SqliteOutbox only: durability across reopen, recovery of what a crash leaves, self-healing."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldagent.outbox import (
    ClassLimits,
    Limits,
    NewItem,
    OutboxCorrupt,
    OutboxLocked,
    SqliteOutbox,
)

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
PRIORITY = {"alert": 0, "signals": 10, "heartbeat": 20, "model_report": 30, "image": 50}


def new(kind: str, key: str, size: int = 100, **kw: Any) -> NewItem:
    kw.setdefault("priority", PRIORITY[kind])
    kw.setdefault("data", (key.encode() * size)[:size])
    return NewItem(kind=kind, key=key, created_at=kw.pop("at", T0), **kw)


def open_box(directory: Path, **kw: Any) -> SqliteOutbox:
    kw.setdefault("limits", Limits.unlimited())
    kw.setdefault("inline_max", 256)
    return SqliteOutbox(directory, clock=lambda: T0, **kw)


def spool_files(directory: Path) -> list[str]:
    return sorted(p.name for p in (directory / "spool").iterdir())


# -- durability ------------------------------------------------------------------------------
def test_everything_survives_close_and_reopen(tmp_path: Path):
    box = open_box(tmp_path)
    box.put_many([new("alert", "a"), new("image", "img", 5000), new("signals", "s"),
                  new("signals", "bad"), new("heartbeat", "hb")], now=T0)
    items = {i.key: i for i in box.lease(now=T0, limit=10)}
    box.ack(items["a"].id, now=T0 + timedelta(seconds=1))
    box.save_progress(items["img"].id, {"upload_id": "u1", "parts": [{"n": 1, "etag": "e"}]})
    box.nack(items["s"].id, now=T0, retry_at=T0 + timedelta(minutes=1), error="timeout")
    box.give_up(items["bad"].id, now=T0, error="HTTP 400")
    box.close()

    box = open_box(tmp_path)
    assert box.recovery_report.leases_reset == 2  # img and hb were still leased
    again = {i.key: i for i in box.lease(now=T0 + timedelta(minutes=1), limit=10)}
    assert set(again) == {"img", "s", "hb"}
    assert again["img"].progress == {"upload_id": "u1", "parts": [{"n": 1, "etag": "e"}]}
    assert (again["s"].attempts, again["s"].last_error) == (1, "timeout")
    with box.open_payload(again["img"]) as f:
        assert f.read() == (b"img" * 5000)[:5000]
    assert box.put(new("alert", "a"), now=T0).status == "duplicate"
    stats = box.stats(now=T0)
    assert stats.drops["give_up"] == 1
    assert stats.last_success_at == T0 + timedelta(seconds=1)
    assert [(d["key"], d["error"]) for d in box.dead_letters()] == [("bad", "HTTP 400")]
    box.close()


def test_payload_files_leave_with_their_items(tmp_path: Path):
    box = open_box(tmp_path, limits=Limits(None, {"image": ClassLimits(12_000, "drop_oldest")}))
    box.put_many([new("image", f"i{n}", 5000, at=T0 + timedelta(minutes=n)) for n in range(2)],
                 now=T0)
    box.put(new("image", "i2", 5000, at=T0 + timedelta(minutes=2)), now=T0)  # evicts i0
    box.put(new("image", "exp", 5000, at=T0 + timedelta(minutes=3),
                expires_at=T0 + timedelta(hours=1)), now=T0)  # evicts i1
    assert len(spool_files(tmp_path)) == 2
    (first,) = box.lease(now=T0)
    box.ack(first.id, now=T0)
    assert box.expire(now=T0 + timedelta(hours=2)) == 1
    assert spool_files(tmp_path) == []
    box.close()


def test_one_process_owns_the_directory(tmp_path: Path):
    box = open_box(tmp_path)
    with pytest.raises(OutboxLocked, match="only one fieldagent process"):
        open_box(tmp_path)
    box.close()
    open_box(tmp_path).close()


# -- reconciliation at open ------------------------------------------------------------------
def test_orphan_spool_files_are_removed_at_open(tmp_path: Path):
    box = open_box(tmp_path)
    box.put(new("image", "kept", 5000), now=T0)
    box.close()
    (tmp_path / "spool" / "000000009999.bin").write_bytes(b"left by a crash before commit")
    (tmp_path / "spool" / ".tmp-0123456789abcdef").write_bytes(b"half written")
    box = open_box(tmp_path)
    assert box.recovery_report.orphan_files_removed == 2
    assert spool_files(tmp_path) == ["000000000001.bin"]
    box.close()


def test_a_row_whose_file_is_missing_is_dropped_as_corrupt(tmp_path: Path, caplog):
    box = open_box(tmp_path)
    box.put_many([new("image", "lost", 5000), new("image", "ok", 5000)], now=T0)
    box.close()
    (tmp_path / "spool" / "000000000001.bin").unlink()
    with caplog.at_level(logging.WARNING):
        box = open_box(tmp_path)
    assert box.recovery_report.missing_payloads_dropped == 1
    assert "missing" in caplog.text and "item 1" in caplog.text
    assert [i.key for i in box.lease(now=T0, limit=5)] == ["ok"]
    assert box.stats(now=T0).drops["corrupt"] == 1
    box.close()


def test_a_damaged_spool_file_is_quarantined_when_opened(tmp_path: Path):
    box = open_box(tmp_path)
    box.put_many([new("image", "damaged", 5000), new("image", "fine", 5000)], now=T0)
    path = tmp_path / "spool" / "000000000001.bin"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # same size, different content: only the sha256 can tell
    path.write_bytes(bytes(data))
    damaged, fine = box.lease(now=T0, limit=2)
    with pytest.raises(OutboxCorrupt, match="sha256"):
        box.open_payload(damaged)
    assert [p.name for p in (tmp_path / "quarantine").iterdir()] == [
        "20260601T060000Z-spool-000000000001.bin"
    ]
    assert box.stats(now=T0).drops["corrupt"] == 1
    with box.open_payload(fine) as f:
        assert len(f.read()) == 5000
    box.release(fine.id)
    assert [i.key for i in box.lease(now=T0, limit=5)] == ["fine"]
    box.close()


# -- a corrupt database heals instead of crash-looping ----------------------------------------
def _write_garbage(db: Path) -> None:
    db.write_bytes(os.urandom(3000) + b"definitely not sqlite" * 500)
    for side in ("-wal", "-shm"):
        db.with_name(db.name + side).unlink(missing_ok=True)


def test_a_garbage_database_is_quarantined_and_a_fresh_one_works(tmp_path: Path, caplog):
    box = open_box(tmp_path)
    box.put_many([new("signals", "s"), new("image", "img", 5000)], now=T0)
    box.close()
    _write_garbage(tmp_path / "outbox.db")
    with caplog.at_level(logging.WARNING):
        box = open_box(tmp_path)
    moved = box.recovery_report.db_quarantined
    assert moved == tmp_path / "quarantine" / "20260601T060000Z-outbox.db" and moved.exists()
    assert "corrupt" in caplog.text and str(moved) in caplog.text and "Lost" in caplog.text
    assert spool_files(tmp_path) == []  # the lost rows' payloads were orphans
    assert box.put(new("signals", "after"), now=T0).status == "accepted"
    box.close()
    box = open_box(tmp_path)  # the second open after the heal is an ordinary open
    assert box.recovery_report.db_quarantined is None
    assert [i.key for i in box.lease(now=T0)] == ["after"]
    box.close()


def test_repeated_corruption_never_crash_loops(tmp_path: Path):
    for _ in range(2):
        open_box(tmp_path).close()
        _write_garbage(tmp_path / "outbox.db")
        for _attempt in range(2):
            box = open_box(tmp_path)
            assert box.put(new("signals", "x"), now=T0).status in ("accepted", "duplicate")
            box.close()
    assert len(list((tmp_path / "quarantine").glob("*-outbox.db*"))) == 2


def test_the_quarantine_folder_is_bounded(tmp_path: Path):
    for _ in range(3):
        open_box(tmp_path, quarantine_bytes=1).close()
        _write_garbage(tmp_path / "outbox.db")
    garbage = (tmp_path / "outbox.db").read_bytes()
    open_box(tmp_path, quarantine_bytes=1).close()
    (kept,) = (tmp_path / "quarantine").iterdir()  # only the newest incident is kept
    assert kept.read_bytes() == garbage


def test_damaged_pages_fail_the_integrity_check_and_are_quarantined(tmp_path: Path):
    box = open_box(tmp_path)
    for n in range(20):
        box.put_many([new("signals", f"s{n}-{i}", 200) for i in range(50)], now=T0)
    box.close()
    db = tmp_path / "outbox.db"
    with open(db, "r+b") as f:
        for page in range(2, 12):
            f.seek(page * 4096)
            f.write(b"\xee" * 64)  # smash the b-tree page headers
    box = open_box(tmp_path)
    assert box.recovery_report.db_quarantined is not None
    assert box.put(new("signals", "s0-0"), now=T0).status == "accepted"
    box.close()


def test_corruption_found_while_running_heals_and_retries(tmp_path: Path, monkeypatch):
    box = open_box(tmp_path)
    box.put(new("signals", "before"), now=T0)
    real = SqliteOutbox._expire_tx
    calls = []

    def flaky(self: SqliteOutbox, conn: sqlite3.Connection, now_us: int) -> list[str | None]:
        calls.append(now_us)
        if len(calls) == 1:
            exc = sqlite3.DatabaseError("database disk image is malformed")
            exc.sqlite_errorcode = 11  # type: ignore[attr-defined]
            raise exc
        return real(self, conn, now_us)

    monkeypatch.setattr(SqliteOutbox, "_expire_tx", flaky)
    assert box.put(new("signals", "during"), now=T0).status == "accepted"
    assert len(list((tmp_path / "quarantine").glob("*-outbox.db"))) == 1
    assert [i.key for i in box.lease(now=T0, limit=5)] == ["during"]
    box.close()


def test_errors_that_are_not_corruption_are_not_healed(tmp_path: Path, monkeypatch):
    box = open_box(tmp_path)

    def locked(*_a: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(SqliteOutbox, "_expire_tx", locked)
    with pytest.raises(sqlite3.OperationalError):
        box.put(new("signals", "x"), now=T0)
    assert not (tmp_path / "quarantine").exists()
    box.close()
