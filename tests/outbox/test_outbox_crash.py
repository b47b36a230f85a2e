"""A writer killed with SIGKILL mid-stream, many times: nothing acknowledged is ever lost.

The child process puts batches (inline and spooled payloads), leases and acks some, and
prints the keys of every batch whose ``put_many`` returned. The parent kills it at a
random moment, reopens the outbox and checks: every acknowledged key is held or
remembered as delivered, every held payload is intact, ``PRAGMA integrity_check`` is
``ok``, and no spool file lacks a row (nor a row its file).
"""

from __future__ import annotations

import hashlib
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fieldagent.outbox import Limits, NewItem, SqliteOutbox

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)

CHILD = r"""
import hashlib, random, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
import pytest

from fieldagent.outbox import Limits, NewItem, SqliteOutbox

directory, run = Path(sys.argv[1]), int(sys.argv[2])
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
box = SqliteOutbox(directory, limits=Limits.unlimited(), inline_max=1024, clock=lambda: T0)
rng = random.Random(run)

def payload(key):
    return (hashlib.sha256(key.encode()).digest() * 200)[: 300 if key.endswith("s") else 5000]

for b in range(10_000):
    now = T0 + timedelta(seconds=b)
    keys = [f"r{run}-b{b}-{i}-{'s' if rng.random() < 0.7 else 'i'}" for i in range(8)]
    box.put_many([NewItem("signals", k, 10, now, data=payload(k)) for k in keys], now=now)
    print("ok", *keys, flush=True)
    for item in box.lease(now=now, limit=3):
        box.ack(item.id, now=now) if rng.random() < 0.8 else box.nack(
            item.id, now=now, retry_at=now, error="flaky link")
"""


def expected_payload(key: str) -> bytes:
    return (hashlib.sha256(key.encode()).digest() * 200)[: 300 if key.endswith("s") else 5000]


def run_and_kill(directory: Path, run: int, rng: random.Random) -> list[str]:
    """Start a writer, let it acknowledge a few batches, SIGKILL it; return acked keys."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), str(run)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(rng.randint(1, 8))]
    time.sleep(rng.random() * 0.03)  # vary where in the next batch the kill lands
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    lines += proc.stdout.readlines()  # printed before the kill: acknowledged too
    proc.stdout.close()
    assert lines and lines[0].startswith("ok"), "the writer never acknowledged a batch"
    return [key for line in lines if line.startswith("ok") for key in line.split()[1:]]


def check_store(directory: Path, acked: list[str]) -> None:
    box = SqliteOutbox(directory, limits=Limits.unlimited(), inline_max=1024, clock=lambda: T0)
    try:
        for item in box.lease(now=T0.replace(year=2027), limit=100_000):
            with box.open_payload(item) as f:
                assert f.read() == expected_payload(item.key), item.key
        probes = [NewItem("signals", k, 10, T0, data=b"probe") for k in acked]
        statuses = [r.status for r in box.put_many(probes, now=T0)]
        lost = [k for k, s in zip(acked, statuses, strict=True) if s != "duplicate"]
        assert lost == [], f"{len(lost)} acknowledged puts were lost, e.g. {lost[:3]}"
    finally:
        box.close()
    conn = sqlite3.connect(directory / "outbox.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    owned = {r[0] for r in conn.execute("SELECT spool FROM items WHERE spool IS NOT NULL")}
    conn.close()
    assert {p.name for p in (directory / "spool").iterdir()} == owned


@pytest.mark.slow
def test_acknowledged_puts_survive_sigkill_many_times(tmp_path: Path):
    rng = random.Random(20260601)
    acked: list[str] = []
    for run in range(12):
        acked += run_and_kill(tmp_path, run, rng)
        check_store(tmp_path, acked)
    assert len(acked) >= 12 * 8
