"""Accepted signal records are never lost nor batched twice, whatever step a crash hits.

The crash points are reproduced by doing the batcher's steps by hand up to the crash and
then opening a new batcher on the same files, as a restarted process would. (The
SIGKILL version of this, with real uploads, is ``tests/e2e_uplink``.)
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fieldagent.offload.batcher import SignalBatcher, build_item
from fieldagent.offload.journal import RecordJournal
from fieldagent.outbox import ClassLimits, Item, Limits, SqliteOutbox
from fieldagent.policy.model import BatchingPolicy
from fieldcontract.batch import read_batch
from tests.support.clock import SimClock

POLICY = BatchingPolicy.model_validate({"max_records": 1000, "max_bytes": "1MB", "max_age": "1h"})


def open_all(tmp: Path, clock: SimClock, limits: Limits | None = None) -> tuple[
    SqliteOutbox, RecordJournal, SignalBatcher
]:
    box = SqliteOutbox(tmp / "outbox", limits=limits or Limits.unlimited(), clock=clock)
    journal = RecordJournal(tmp / "signals.db")
    return box, journal, SignalBatcher(POLICY, "gh-1", clock, outbox=box, journal=journal)


def delivered_records(box: SqliteOutbox, now: datetime) -> list[int]:
    out: list[int] = []
    for item in box.lease(now=now, kinds=["signals"], limit=1000):
        with box.open_payload(item) as f:
            out += [int(r["i"]) for r in read_batch(f.read())[1]]
    return sorted(out)


def test_accepted_records_survive_a_crash_without_any_flush(tmp_path: Path) -> None:
    clock = SimClock()
    box, journal, b = open_all(tmp_path, clock)
    b.add([{"i": i} for i in range(10)])
    b.add([{"i": i} for i in range(10, 15)])
    box.close()
    journal.close()  # the process dies: no flush, the open batch was only in the journal

    clock.now += timedelta(minutes=5)
    box, journal, b = open_all(tmp_path, clock)
    assert b.pending == 15
    clock.now += timedelta(minutes=55)  # one hour after the first record was accepted
    assert b.poll() == 1
    assert delivered_records(box, clock.now) == list(range(15))
    box.close()


@pytest.mark.parametrize("crash_after", ["seal", "put"])
def test_a_batch_sealed_before_a_crash_reaches_the_outbox_exactly_once(
    tmp_path: Path, crash_after: str
) -> None:
    clock = SimClock()
    box, journal, b = open_all(tmp_path, clock)
    b.add([{"i": i} for i in range(6)])
    sealed = journal.seal([r.seq for r in journal.open_records()], now=clock.now)  # step 1
    if crash_after == "put":  # step 2 happened, step 3 (forget) did not
        box.put(build_item(sealed, POLICY, "gh-1", 1, timedelta(days=30)), now=clock.now)
    box.close()
    journal.close()

    box, journal, b = open_all(tmp_path, clock)
    assert b.pending == 0 and journal.sealed() == [] and journal.open_records() == []
    items = box.lease(now=clock.now, limit=10)
    assert len(items) == 1, "the batch must be in the outbox once, not twice"
    assert delivered_records_of(box, items) == list(range(6))
    box.close()


def delivered_records_of(box: SqliteOutbox, items: list[Item]) -> list[int]:
    out: list[int] = []
    for item in items:
        with box.open_payload(item) as f:
            out += [int(r["i"]) for r in read_batch(f.read())[1]]
    return sorted(out)


def test_a_batch_refused_by_the_outbox_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(None, {"signals": ClassLimits(max_bytes=10, when_full="reject_new")})
    clock = SimClock()
    box, journal, b = open_all(tmp_path, clock, limits)
    with caplog.at_level(logging.WARNING):
        b.add([{"i": i} for i in range(3)])
        b.flush()
    assert "outbox refused signal batch" in caplog.text and "cap_reject" in caplog.text
    assert journal.open_records() == [] and journal.sealed() == []
    assert box.stats(now=clock.now).drops["cap_reject"] == 1
    box.close()


def test_a_corrupt_journal_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "signals.db"
    path.write_bytes(b"this is not a database, it is a damaged SD card block" * 100)
    with caplog.at_level(logging.WARNING):
        journal = RecordJournal(path)
    assert "is corrupt" in caplog.text and "moved it to" in caplog.text
    assert journal.integrity() == ["ok"] and journal.open_records() == []
    assert [p.name for p in tmp_path.glob("signals.db.corrupt-*")]
    journal.close()
