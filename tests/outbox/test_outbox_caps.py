"""Byte caps and eviction policy, against every implementation, plus the planner itself."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldagent.outbox import ClassLimits, Limits, MemoryOutbox, NewItem, Outbox, SqliteOutbox
from fieldagent.outbox.caps import Victim, thin_order

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
PRIORITY = {"alert": 0, "signals": 10, "heartbeat": 20, "model_report": 30, "image": 50}


def new(kind: str, key: str, size: int = 100, *, minute: int = 0, **kw: Any) -> NewItem:
    kw.setdefault("priority", PRIORITY[kind])
    return NewItem(kind=kind, key=key, created_at=T0 + timedelta(minutes=minute),
                   data=bytes(size), **kw)


def held_keys(box: Outbox, kind: str | None = None) -> list[str]:
    """Keys held, in age order (leases them for a moment, then releases them)."""
    items = box.lease(now=T0 + timedelta(days=30), limit=100_000, lease_seconds=1,
                      kinds=None if kind is None else [kind])
    for item in items:
        box.release(item.id)
    return [i.key for i in sorted(items, key=lambda i: (i.created_at, i.id))]


def fill(box: Outbox, kind: str, n: int, size: int = 100, prefix: str | None = None) -> list[int]:
    prefix = prefix or kind[0]
    results = box.put_many([new(kind, f"{prefix}{i:02d}", size, minute=i) for i in range(n)],
                           now=T0)
    assert all(r.status == "accepted" for r in results)
    return [r.item_id for r in results if r.item_id is not None]


# -- class caps ------------------------------------------------------------------------------
def test_reject_new_keeps_what_it_has(make_outbox):
    box = make_outbox(Limits(None, {"signals": ClassLimits(250, "reject_new")}))
    fill(box, "signals", 2)
    result = box.put(new("signals", "third", minute=5), now=T0)
    assert result.status == "rejected" and "'signals' cap of 250" in (result.reason or "")
    assert result.evicted == ()
    assert held_keys(box) == ["s00", "s01"]
    assert box.stats(now=T0).drops["cap_reject"] == 1


def test_drop_oldest_evicts_oldest_first_and_as_many_as_needed(make_outbox):
    box = make_outbox(Limits(None, {"image": ClassLimits(300, "drop_oldest")}))
    ids = fill(box, "image", 3)
    r1 = box.put(new("image", "new1", minute=10), now=T0)
    assert r1.evicted == (ids[0],)
    r2 = box.put(new("image", "new2", 200, minute=11), now=T0)
    assert r2.evicted == (ids[1], ids[2])
    assert held_keys(box) == ["new1", "new2"]
    assert box.stats(now=T0).drops["evicted_drop_oldest"] == 3


def test_thin_evicts_every_nth_oldest_for_a_sparser_history(make_outbox):
    box = make_outbox(Limits(None, {"image": ClassLimits(1000, "thin", thin_every=2)}))
    ids = fill(box, "image", 10)
    evicted = []
    for n in range(10, 15):
        evicted += box.put(new("image", f"i{n:02d}", minute=n), now=T0).evicted
    assert evicted == [ids[1], ids[3], ids[5], ids[7], ids[9]]
    assert held_keys(box) == ["i00", "i02", "i04", "i06", "i08", "i10", "i11", "i12", "i13", "i14"]
    assert box.stats(now=T0).drops["evicted_thin"] == 5


def test_an_item_bigger_than_its_class_cap_is_rejected_without_evicting(make_outbox):
    box = make_outbox(Limits(None, {"image": ClassLimits(300, "drop_oldest")}))
    fill(box, "image", 3)
    assert box.put(new("image", "huge", 301), now=T0).status == "rejected"
    assert len(held_keys(box)) == 3


def test_leased_items_are_in_flight_and_not_evicted(make_outbox):
    box = make_outbox(Limits(None, {"image": ClassLimits(300, "drop_oldest")}))
    ids = fill(box, "image", 3)
    (in_flight,) = box.lease(now=T0)
    assert in_flight.id == ids[0]
    assert box.put(new("image", "new", minute=9), now=T0).evicted == (ids[1],)


# -- total cap --------------------------------------------------------------------------------
def test_total_cap_evicts_less_urgent_kinds_first(make_outbox):
    box = make_outbox(Limits(1000, {"image": ClassLimits(None, "drop_oldest")}))
    img = fill(box, "image", 5)
    hb = fill(box, "heartbeat", 5)
    result = box.put(new("signals", "sig", 300, minute=30), now=T0)
    assert result.evicted == tuple(img[:3])  # images (least urgent) go before heartbeats
    assert box.stats(now=T0).total_bytes == 1000
    alert = box.put(new("alert", "alert", 400, minute=31), now=T0)
    assert alert.evicted == (img[3], img[4], hb[0], hb[1])


def test_more_urgent_items_are_never_evicted_for_less_urgent_ones(make_outbox):
    box = make_outbox(Limits(1000, {"image": ClassLimits(None, "drop_oldest")}))
    fill(box, "signals", 10)
    result = box.put(new("image", "img", minute=20), now=T0)
    assert result.status == "rejected" and "total cap" in (result.reason or "")
    assert len(held_keys(box, "signals")) == 10


def test_alerts_are_never_evicted_to_make_room_for_anything_else(make_outbox):
    box = make_outbox(Limits(1000, {k: ClassLimits(None, "drop_oldest") for k in PRIORITY}))
    fill(box, "alert", 8)
    fill(box, "image", 2)
    for kind in ("signals", "heartbeat", "model_report"):
        assert box.put(new(kind, f"{kind}-x", 300, priority=0), now=T0).status == "rejected"
    assert held_keys(box, "alert") == [f"a{i:02d}" for i in range(8)]
    # an alert may evict the less urgent images to fit
    assert len(box.put(new("alert", "a-new", 200, minute=50), now=T0).evicted) == 2


def test_a_rejected_put_evicts_nothing(make_outbox):
    box = make_outbox(Limits(1000, {"image": ClassLimits(None, "drop_oldest")}))
    fill(box, "image", 6)
    fill(box, "alert", 4)
    result = box.put(new("signals", "big", 700), now=T0)
    assert result.status == "rejected" and result.evicted == ()
    assert len(held_keys(box, "image")) == 6


def test_own_kind_reject_new_does_not_evict_itself_under_the_total_cap(make_outbox):
    box = make_outbox(Limits(500, {"signals": ClassLimits(None, "reject_new")}))
    fill(box, "signals", 5)
    assert box.put(new("signals", "more", minute=9), now=T0).status == "rejected"
    box2 = make_outbox(Limits(500, {"signals": ClassLimits(None, "drop_oldest")}))
    ids = fill(box2, "signals", 5)
    assert box2.put(new("signals", "more", minute=9), now=T0).evicted == (ids[0],)


def test_limits_refuse_unknown_kinds_and_bad_values():
    with pytest.raises(ValueError, match="unknown kinds"):
        Limits(None, {"images": ClassLimits(10, "thin")})
    with pytest.raises(ValueError, match="thin_every"):
        ClassLimits(10, "thin", thin_every=1)
    with pytest.raises(ValueError, match="total_bytes"):
        Limits(-1)


# -- the planner's thinning order -------------------------------------------------------------
def _victims(n: int) -> list[Victim]:
    return [Victim(i, "image", 50, 1, i) for i in range(n)]


def test_thin_order_walks_on_from_the_cursor_and_wraps():
    items = _victims(8)
    assert [v.id for v in thin_order(items, 2, None)][:4] == [1, 3, 5, 7]
    after_one_pass = [v for v in items if v.id not in (1, 3)]  # the cursor sits on item 3
    assert [v.id for v in thin_order(after_one_pass, 2, (3, 3))][:3] == [5, 7, 2]
    assert [v.id for v in thin_order(items, 3, None)] == [2, 5, 3, 7, 4, 6, 0, 1]
    assert [v.id for v in thin_order(_victims(1), 2, None)] == [0]


# -- the caps hold at every step, identically in both implementations ---------------------------
def _random_ops(seed: int, n: int) -> list[tuple[str, Any]]:
    rng = random.Random(seed)
    kinds = list(PRIORITY)
    ops: list[tuple[str, Any]] = []
    for i in range(n):
        r = rng.random()
        if r < 0.7:
            kind = rng.choice(kinds)
            size = rng.choice([50, 100, 300, 700]) if kind == "image" else rng.randint(10, 120)
            ops.append(("put", new(kind, f"k{rng.randint(0, n)}", size, minute=i)))
        elif r < 0.85:
            ops.append(("lease", rng.randint(1, 3)))
        else:
            ops.append(("ack", rng.random()))
    return ops


LIMITS = Limits(
    2000,
    {
        "image": ClassLimits(1200, "thin", 3),
        "signals": ClassLimits(600, "drop_oldest"),
        "heartbeat": ClassLimits(150, "reject_new"),
        "model_report": ClassLimits(None, "drop_oldest"),
    },
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_caps_hold_after_every_operation_and_implementations_agree(tmp_path: Path, seed: int):
    boxes: list[Outbox] = [
        MemoryOutbox(limits=LIMITS),
        SqliteOutbox(tmp_path / "box", limits=LIMITS, clock=lambda: T0, inline_max=200),
    ]
    leased: list[list[int]] = [[], []]
    alerts_in: set[str] = set()
    for step, (op, arg) in enumerate(_random_ops(seed, 500)):
        now = T0 + timedelta(minutes=step)
        outcomes = [_apply(b, op, arg, now, held) for b, held in zip(boxes, leased, strict=True)]
        assert outcomes[0] == outcomes[1], f"step {step}: {op} {arg}"
        if op == "put" and arg.kind == "alert" and outcomes[0][0] == "accepted":
            alerts_in.add(arg.key)
        _assert_within_caps(boxes[1].stats(now=now))
    for box in boxes:  # no accepted alert was evicted: each is still held or remembered as done
        end = T0 + timedelta(minutes=600)
        assert {box.put(new("alert", k), now=end).status for k in alerts_in} <= {"duplicate"}
        box.close()


def _apply(box: Outbox, op: str, arg: Any, now: datetime, held: list[int]) -> Any:
    if op == "put":
        r = box.put(arg, now=now)
        return (r.status, r.item_id, r.evicted)
    if op == "lease":
        items = box.lease(now=now, limit=arg, lease_seconds=3600 * 24 * 30)
        held += [i.id for i in items]
        return [i.id for i in items]
    if held:
        item_id = held.pop(int(arg * len(held)))
        box.ack(item_id, now=now)
        return item_id
    return None


def _assert_within_caps(stats: Any) -> None:
    assert stats.total_bytes <= LIMITS.total_bytes
    for kind, rule in LIMITS.per_kind.items():
        states = stats.by_kind_state[kind]
        held = states["ready"]["bytes"] + states["leased"]["bytes"]
        assert rule.max_bytes is None or held <= rule.max_bytes, kind
