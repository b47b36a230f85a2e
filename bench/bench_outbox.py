"""Benchmark: durable enqueue -> lease -> ack of small records, SqliteOutbox vs persist-queue.

The work: ``--records`` signal records of 300 bytes go through put, lease and ack.
persist-queue's ``SQLiteAckQueue`` does ``put``, ``get``, ``ack`` per record, each its own
transaction. ``SqliteOutbox`` puts batches of 100 with ``put_many`` (one transaction),
leases 100 at a time and acks each record (or acks the batch with ``ack_many``).

Same durability: both write to files in the same temporary folder, both in WAL mode with
``synchronous=FULL`` on every commit (persist-queue's connections are set to FULL
explicitly; the outbox runs with ``sync="full"``), so every acknowledged state change on
both sides has been fsynced. A fourth line shows the outbox's default ``sync="auto"``
(puts FULL, lease/ack of inline records NORMAL), which is *not* the same durability and
is reported for information only.

Variants run interleaved, round after round, in this one process, so machine noise hits
all alike; the figures are medians over rounds and the ratio is of those medians.

    python bench/bench_outbox.py [--records 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import persistqueue

from fieldagent.outbox import Limits, NewItem, SqliteOutbox

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
RECORD = 300
BATCH = 100


def records(n: int) -> list[bytes]:
    return [(f"{i:08d}".encode() * (RECORD // 8 + 1))[:RECORD] for i in range(n)]


def run_persistqueue(folder: Path, data: list[bytes]) -> None:
    q = persistqueue.SQLiteAckQueue(str(folder), auto_commit=True, multithreading=False)
    for conn in (q._conn, q._putter):  # same durability as the outbox: fsync every commit
        conn.execute("PRAGMA synchronous=FULL")
    for start in range(0, len(data), BATCH):
        for record in data[start : start + BATCH]:
            q.put(record)
        for _ in range(len(data[start : start + BATCH])):
            item = q.get(block=False)
            q.ack(item)
    assert q.qsize() == 0
    q.close()


def outbox_run(*, sync: str, batch_ack: bool) -> Callable[[Path, list[bytes]], None]:
    def run(folder: Path, data: list[bytes]) -> None:
        box = SqliteOutbox(folder, limits=Limits.unlimited(), clock=lambda: T0,
                           sync=sync)  # type: ignore[arg-type]
        for start in range(0, len(data), BATCH):
            chunk = data[start : start + BATCH]
            items = [NewItem("signals", f"sig/{start + i:08d}", 10, T0, data=rec)
                     for i, rec in enumerate(chunk)]
            assert all(r.status == "accepted" for r in box.put_many(items, now=T0))
            leased = box.lease(now=T0, kinds=["signals"], limit=BATCH)
            assert len(leased) == len(chunk)
            if batch_ack:
                box.ack_many([item.id for item in leased], now=T0)
            else:
                for item in leased:
                    box.ack(item.id, now=T0)
        assert box.stats(now=T0).total_bytes == 0
        box.close()

    return run


VARIANTS: dict[str, Callable[[Path, list[bytes]], None]] = {
    "persist-queue SQLiteAckQueue (FULL, put/get/ack per record)": run_persistqueue,
    "SqliteOutbox sync=full, put_many+lease per 100, ack per record": outbox_run(
        sync="full", batch_ack=False),
    "SqliteOutbox sync=full, put_many+lease+ack_many per 100": outbox_run(
        sync="full", batch_ack=True),
    "SqliteOutbox sync=auto (default; NOT same durability), ack per record": outbox_run(
        sync="auto", batch_ack=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = records(args.records)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    root = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    try:
        for rnd in range(args.rounds):
            for name, run in VARIANTS.items():
                folder = root / f"r{rnd}-{len(times[name])}-{abs(hash(name))}"
                start = time.perf_counter()
                run(folder, data)
                times[name].append(time.perf_counter() - start)
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(times, args.records, args.rounds)


def report(times: dict[str, list[float]], n: int, rounds: int) -> None:
    base_name = next(iter(VARIANTS))
    base = n / statistics.median(times[base_name])
    print(f"{n} records of {RECORD} B, median of {rounds} interleaved rounds, files on "
          f"{tempfile.gettempdir()}")
    for name, samples in times.items():
        rate = n / statistics.median(samples)
        print(f"  {name:<72} {rate:>9.0f} records/s  {rate / base:>6.1f}x")


if __name__ == "__main__":
    main()
