"""A simulated week offline (injected clock): the real disk stays under the cap and the
outbox keeps the right things (every alert, a thinned image history spanning the week,
the newest signals, only fresh heartbeats)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldagent.outbox import ClassLimits, Limits, NewItem, SqliteOutbox

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
KIB, MIB = 1024, 1024 * 1024
IMAGE = 80 * KIB
CYCLE = timedelta(minutes=30)  # one capture cycle: an image, 16 zone records, ...
CYCLES_PER_DAY = 48
LIMITS = Limits(
    6 * MIB,
    {
        "image": ClassLimits(4 * MIB, "thin", thin_every=2),
        "signals": ClassLimits(1 * MIB, "drop_oldest"),
        "heartbeat": ClassLimits(64 * KIB, "drop_oldest"),
        "model_report": ClassLimits(256 * KIB, "reject_new"),
    },
)
# What SQLite needs beside the payloads: WAL (checkpointed at ~1 MiB), a reserve of free
# pages (<= 1 MiB), the -shm index, and per held row its metadata and index entries.
FIXED_OVERHEAD = 2 * MIB + 64 * KIB
PER_ROW_OVERHEAD = 400


def disk_bytes(directory: Path) -> int:
    """Bytes the store really occupies: database, WAL, SHM and spool files."""
    total = 0
    for root, _dirs, files in os.walk(directory):
        if Path(root).name != "quarantine":
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def capture(step: int, now: datetime, src: Path) -> list[NewItem]:
    """What one capture cycle produces."""
    src.write_bytes(step.to_bytes(4, "big") * (IMAGE // 4))
    items = [NewItem("image", f"img/{step:05d}.jpg", 50, now, path=src)]
    items += [
        NewItem("signals", f"sig/{step:05d}/{z}", 10, now, data=bytes(300)) for z in range(16)
    ]
    if step % 2 == 0:
        items.append(NewItem("heartbeat", f"hb/{step:05d}", 20, now, data=bytes(500),
                             expires_at=now + timedelta(days=1)))
    if step % CYCLES_PER_DAY == CYCLES_PER_DAY // 2:
        items.append(NewItem("alert", f"alert/{step:05d}", 0, now, data=bytes(2000)))
        items.append(NewItem("model_report", f"report/{step:05d}", 30, now, data=bytes(20_000)))
    return items


@pytest.mark.slow
def test_a_week_offline_keeps_the_disk_under_the_cap_and_the_right_items(tmp_path: Path):
    box = SqliteOutbox(tmp_path / "box", limits=LIMITS, clock=lambda: T0)
    src = tmp_path / "camera.jpg"
    steps = 7 * CYCLES_PER_DAY
    worst = 0
    for step in range(steps):
        now = T0 + step * CYCLE
        results = box.put_many(capture(step, now, src), now=now)
        assert all(r.status == "accepted" for r in results if r.status != "duplicate")
        if step % 2 == 0:
            box.expire(now=now)
        rows = sum(c["items"] for k in box.stats(now=now).by_kind_state.values()
                   for s, c in k.items() if s != "done")
        over = disk_bytes(tmp_path / "box") - (LIMITS.total_bytes or 0) - IMAGE
        worst = max(worst, over - PER_ROW_OVERHEAD * rows)
        assert over <= FIXED_OVERHEAD + PER_ROW_OVERHEAD * rows, f"step {step}: {over} over"
    end = T0 + steps * CYCLE
    stats = box.stats(now=end)
    assert stats.total_bytes <= LIMITS.total_bytes  # the payload cap holds exactly
    _check_kept(box, end)
    assert stats.drops["evicted_thin"] > 0 and stats.drops["evicted_drop_oldest"] > 0
    assert stats.drops["expired"] > 0
    box.close()
    assert worst <= FIXED_OVERHEAD


def _check_kept(box: SqliteOutbox, end: datetime) -> None:
    items = box.lease(now=end, limit=100_000)
    by_kind: dict[str, list[datetime]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item.created_at)
    assert len(by_kind["alert"]) == 7  # every alert of the week
    images = sorted(by_kind["image"])
    assert images[0] < T0 + timedelta(days=1), "thinning keeps history back to day one"
    assert images[-1] == end - CYCLE, "and the newest image"
    assert 30 <= len(images) <= 4 * MIB // IMAGE
    signals = sorted(set(by_kind["signals"]))
    steps = [(s - T0) // CYCLE for s in signals]
    assert steps == list(range(steps[0], steps[-1] + 1)), "drop_oldest keeps a recent run"
    assert len(by_kind["signals"]) == MIB // 300, "the signals cap is full, to the record"
    assert signals[0] > T0 + timedelta(days=2), "the oldest signals made room"
    assert signals[-1] == end - CYCLE
    assert min(by_kind["heartbeat"]) >= end - timedelta(days=1) - CYCLE
    assert len(by_kind["model_report"]) == 7
