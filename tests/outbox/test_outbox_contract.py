"""The outbox contract, run against every implementation (SqliteOutbox and MemoryOutbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldagent.outbox import ItemGone, NewItem, Outbox

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
PRIORITY = {"alert": 0, "signals": 10, "heartbeat": 20, "model_report": 30, "image": 50}


def new(kind: str, key: str, size: int = 100, *, at: datetime = T0, **kw: Any) -> NewItem:
    """A NewItem whose payload is derived from its key, so a mix-up would show."""
    if "data" not in kw and "path" not in kw:
        kw["data"] = (key.encode() * (size // len(key) + 1))[:size]
    kw.setdefault("priority", PRIORITY[kind])
    return NewItem(kind=kind, key=key, created_at=at, **kw)


def lease_keys(box: Outbox, now: datetime = T0, **kw: Any) -> list[str]:
    return [i.key for i in box.lease(now=now, limit=kw.pop("limit", 100), **kw)]


# -- ordering and leases ---------------------------------------------------------------------
def test_lease_order_is_priority_then_age_then_id(make_outbox):
    box = make_outbox()
    box.put_many(
        [
            new("image", "img-old", at=T0 - timedelta(hours=2)),
            new("signals", "sig-new", at=T0),
            new("signals", "sig-old", at=T0 - timedelta(hours=1)),
            new("alert", "alert", at=T0),
            new("signals", "sig-new-twin", at=T0),  # same age as sig-new: id decides
        ],
        now=T0,
    )
    assert lease_keys(box) == ["alert", "sig-old", "sig-new", "sig-new-twin", "img-old"]


def test_lease_hides_items_until_the_lease_times_out(make_outbox):
    box = make_outbox()
    box.put_many([new("signals", "a"), new("signals", "b")], now=T0)
    first = box.lease(now=T0, lease_seconds=60)
    assert [i.key for i in first] == ["a"] and first[0].state == "leased"
    assert first[0].leased_until == T0 + timedelta(seconds=60)
    assert lease_keys(box, T0 + timedelta(seconds=30)) == ["b"]
    assert lease_keys(box, T0 + timedelta(seconds=59)) == []
    assert lease_keys(box, T0 + timedelta(seconds=61)) == ["a"]


def test_lease_filters_by_kind(make_outbox):
    box = make_outbox()
    box.put_many([new("image", "i"), new("signals", "s"), new("alert", "a")], now=T0)
    assert lease_keys(box, kinds={"image", "signals"}) == ["s", "i"]
    assert lease_keys(box, kinds=["alert"]) == ["a"]


# -- endings ---------------------------------------------------------------------------------
def test_ack_delivers_once_and_remembers_the_key(make_outbox):
    box = make_outbox()
    item_id = box.put(new("signals", "s1"), now=T0).item_id
    (item,) = box.lease(now=T0)
    box.ack(item.id, now=T0 + timedelta(seconds=5))
    assert lease_keys(box, T0 + timedelta(days=1)) == []
    again = box.put(new("signals", "s1"), now=T0 + timedelta(minutes=1))
    assert (again.status, again.item_id) == ("duplicate", item_id)
    stats = box.stats(now=T0 + timedelta(minutes=1))
    assert stats.by_kind_state["signals"]["done"] == {"items": 1, "bytes": 100}
    assert stats.by_kind_state["signals"]["ready"]["items"] == 0
    assert stats.last_success_at == T0 + timedelta(seconds=5)
    box.ack(item.id, now=T0 + timedelta(minutes=2))  # a second ack is a harmless no-op
    box.ack(999_999, now=T0)


def test_nack_counts_the_attempt_and_respects_the_backoff(make_outbox):
    box = make_outbox()
    box.put(new("signals", "s1"), now=T0)
    (item,) = box.lease(now=T0)
    retry = T0 + timedelta(minutes=5)
    box.nack(item.id, now=T0, retry_at=retry, error="HTTP 503")
    assert lease_keys(box, T0 + timedelta(minutes=4, seconds=59)) == []
    (again,) = box.lease(now=retry)
    assert (again.attempts, again.last_error, again.next_attempt_at) == (1, "HTTP 503", retry)


def test_release_returns_the_item_without_counting_an_attempt(make_outbox):
    box = make_outbox()
    box.put(new("image", "big"), now=T0)
    (item,) = box.lease(now=T0)
    box.release(item.id)
    (again,) = box.lease(now=T0)
    assert (again.id, again.attempts, again.state) == (item.id, 0, "leased")


def test_nack_and_release_of_a_ready_item_change_nothing(make_outbox):
    box = make_outbox()
    item_id = box.put(new("signals", "s"), now=T0).item_id
    box.nack(item_id, now=T0, retry_at=T0 + timedelta(hours=1), error="late")
    box.release(item_id)
    (item,) = box.lease(now=T0)
    assert item.attempts == 0


def test_give_up_removes_and_counts(make_outbox):
    box = make_outbox()
    box.put_many([new("signals", "bad"), new("signals", "good")], now=T0)
    (item,) = box.lease(now=T0)
    box.give_up(item.id, now=T0, error="HTTP 400: malformed")
    assert lease_keys(box, T0 + timedelta(days=1)) == ["good"]
    assert box.stats(now=T0).drops["give_up"] == 1
    box.give_up(item.id, now=T0, error="again")  # already gone: no-op, counted once
    assert box.stats(now=T0).drops["give_up"] == 1
    (letter,) = box.dead_letters()
    assert (letter["key"], letter["error"]) == ("bad", "HTTP 400: malformed")
    assert letter["given_up_at"] == T0


def test_save_progress_is_returned_with_the_next_lease(make_outbox):
    box = make_outbox()
    box.put(new("image", "img", 1000), now=T0)
    (item,) = box.lease(now=T0)
    progress = {"upload_id": "u-1", "part_size": 512, "parts": [{"n": 1, "etag": "e1"}]}
    box.save_progress(item.id, progress)
    box.release(item.id)
    (again,) = box.lease(now=T0)
    assert again.progress == progress
    with pytest.raises(ItemGone):
        box.save_progress(123_456, {"upload_id": "x"})


# -- expiry ----------------------------------------------------------------------------------
def test_expired_items_are_not_leased_and_expire_drops_them(make_outbox):
    box = make_outbox()
    box.put_many(
        [
            new("heartbeat", "hb-1", expires_at=T0 + timedelta(minutes=10)),
            new("heartbeat", "hb-2", expires_at=T0 + timedelta(hours=10)),
            new("signals", "s-forever"),
        ],
        now=T0,
    )
    later = T0 + timedelta(minutes=10)
    assert lease_keys(box, later, limit=1, kinds=["heartbeat"]) == ["hb-2"]
    assert box.expire(now=later) == 1
    stats = box.stats(now=later)
    assert stats.drops["expired"] == 1
    assert stats.by_kind_state["heartbeat"]["ready"]["items"] == 0  # hb-2 is leased


def test_an_item_under_an_active_lease_does_not_expire(make_outbox):
    box = make_outbox()
    box.put(new("heartbeat", "hb", expires_at=T0 + timedelta(minutes=1)), now=T0)
    (item,) = box.lease(now=T0, lease_seconds=300)
    assert box.expire(now=T0 + timedelta(minutes=2)) == 0
    box.ack(item.id, now=T0 + timedelta(minutes=3))
    assert box.stats(now=T0).by_kind_state["heartbeat"]["done"]["items"] == 1


# -- put ---------------------------------------------------------------------------------------
def test_put_is_idempotent_by_key(make_outbox):
    box = make_outbox()
    first = box.put(new("signals", "k", data=b"first"), now=T0)
    second = box.put(new("signals", "k", data=b"second"), now=T0)
    assert first.status == "accepted" and second.status == "duplicate"
    assert second.item_id == first.item_id
    (item,) = box.lease(now=T0, limit=10)
    with box.open_payload(item) as f:
        assert f.read() == b"first"


def test_put_many_reports_each_item_and_dedupes_within_the_batch(make_outbox):
    box = make_outbox()
    results = box.put_many([new("signals", "a"), new("signals", "a"), new("alert", "b")], now=T0)
    assert [r.status for r in results] == ["accepted", "duplicate", "accepted"]
    assert results[1].item_id == results[0].item_id


def test_put_many_is_all_or_nothing(make_outbox):
    box = make_outbox()
    bad_meta = {"x": object()}
    batch = [new("signals", "a"), new("image", "b", 5000), new("signals", "c", meta=bad_meta)]
    with pytest.raises(ValueError, match="JSON"):
        box.put_many(batch, now=T0)
    assert box.stats(now=T0).total_bytes == 0
    assert [r.status for r in box.put_many(batch[:2], now=T0)] == ["accepted", "accepted"]


def test_payloads_round_trip_inline_and_spooled(make_outbox, tmp_path: Path):
    box = make_outbox()
    src = tmp_path / "frame.jpg"
    src.write_bytes(bytes(range(256)) * 40)
    box.put_many(
        [
            new("signals", "small", data=b"{}", meta={"zone": "B3"},
                content_type="application/json"),
            new("image", "from-data", data=b"\x01" * 70_000),
            new("image", "from-file", path=src),
        ],
        now=T0,
    )
    src.unlink()  # the outbox owns a copy
    got = {}
    for item in box.lease(now=T0, limit=10):
        with box.open_payload(item) as f:
            got[item.key] = (f.read(), item.size, item.meta, item.content_type)
    assert got["small"] == (b"{}", 2, {"zone": "B3"}, "application/json")
    assert got["from-data"][0] == b"\x01" * 70_000
    assert got["from-file"][:2] == (bytes(range(256)) * 40, 10_240)


def test_an_unreadable_source_file_is_rejected_and_counted(make_outbox, tmp_path: Path):
    box = make_outbox()
    result = box.put(new("image", "gone", path=tmp_path / "missing.jpg"), now=T0)
    assert result.status == "rejected" and "missing.jpg" in (result.reason or "")
    assert box.stats(now=T0).drops["unreadable"] == 1


def test_naive_times_are_refused(make_outbox):
    box = make_outbox()
    with pytest.raises(ValueError, match="timezone-aware"):
        box.put(new("signals", "s"), now=datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        new("signals", "s", at=datetime(2026, 6, 1))


def test_stats_report_backlog_age_and_bytes(make_outbox):
    box = make_outbox()
    box.put_many([new("signals", "old", 300, at=T0 - timedelta(hours=3)), new("image", "i", 700)],
                 now=T0)
    box.lease(now=T0, kinds=["image"])
    stats = box.stats(now=T0)
    assert stats.total_bytes == 1000
    assert stats.oldest_ready_age_s == pytest.approx(3 * 3600)
    assert stats.by_kind_state["image"]["leased"] == {"items": 1, "bytes": 700}
    assert stats.last_success_at is None
    assert stats.to_dict()["drops"]["cap_reject"] == 0


def test_recover_resets_leases_without_counting_attempts(make_outbox):
    box = make_outbox()
    box.put(new("image", "i"), now=T0)
    box.lease(now=T0)
    assert box.recover(now=T0).leases_reset == 1
    (item,) = box.lease(now=T0)
    assert item.attempts == 0
