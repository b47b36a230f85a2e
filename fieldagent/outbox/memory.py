"""``MemoryOutbox``: the reference implementation of the contract, held in memory.

Other modules' unit tests use it instead of a disk store; the shared behaviour suite
keeps it honest against ``SqliteOutbox``. It is not durable (a restart loses it) but
follows every other rule: keys, lease order, caps and eviction, drops by reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from fieldagent.outbox.base import Clock, Outbox, system_clock
from fieldagent.outbox.caps import OrderKey, Victim, plan_put
from fieldagent.outbox.model import (
    DROP_REASONS,
    Item,
    ItemGone,
    Limits,
    NewItem,
    OutboxCorrupt,
    OutboxStats,
    PutResult,
    RecoveryReport,
    empty_stats_table,
    encode_json,
    to_us,
)


@dataclasses.dataclass
class _Done:
    id: int
    kind: str
    size: int
    done_at: datetime


class MemoryOutbox(Outbox):
    """In-memory outbox with the full contract except durability."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        clock: Clock | None = None,
        done_retention: timedelta = timedelta(days=7),
        dead_letters: int = 200,
    ) -> None:
        self._limits = limits or Limits.unlimited()
        self._clock = clock or system_clock
        self._retention = done_retention
        self._dead_max = dead_letters
        self._lock = threading.RLock()
        self._items: dict[int, Item] = {}
        self._payloads: dict[int, bytes] = {}
        self._done: dict[str, _Done] = {}
        self._dead: list[dict[str, Any]] = []
        self._by_key: dict[str, int] = {}
        self._drops: Counter[str] = Counter()
        self._thin: dict[str, OrderKey] = {}
        self._last_success: datetime | None = None
        self._next_id = 1

    # -- put -------------------------------------------------------------------------------
    def put_many(self, items: Sequence[NewItem], *, now: datetime) -> list[PutResult]:
        to_us(now)
        for item in items:  # validate everything first: a bad batch changes nothing
            encode_json(item.meta, "meta")
        with self._lock:
            self._expire(now)
            return [self._put_one(item, now) for item in items]

    def _put_one(self, new: NewItem, now: datetime) -> PutResult:
        existing = self._find_key(new.key)
        if existing is not None:
            return PutResult("duplicate", existing)
        try:
            payload = _read(new)
        except OSError as exc:
            self._drops["unreadable"] += 1
            return PutResult("rejected", None, f"cannot read {new.path}: {exc}")
        plan = plan_put(
            self._limits, _Holdings(self, to_us(now)), kind=new.kind,
            priority=new.priority, size=len(payload),
        )
        if not plan.accepted:
            self._drops["cap_reject"] += 1
            return PutResult("rejected", None, plan.reject)
        for victim, reason in plan.evict:
            self._remove(victim.id)
            self._drops[reason] += 1
        self._thin.update(plan.thin_cursors)
        item_id = self._next_id
        self._next_id += 1
        self._items[item_id] = _new_item(item_id, new, payload, now)
        self._by_key[new.key] = item_id
        self._payloads[item_id] = payload
        return PutResult("accepted", item_id, None, tuple(v.id for v, _ in plan.evict))

    def _find_key(self, key: str) -> int | None:
        if key in self._by_key:
            return self._by_key[key]
        done = self._done.get(key)
        return done.id if done else None

    # -- lease and endings -----------------------------------------------------------------
    def lease(
        self,
        *,
        now: datetime,
        kinds: Collection[str] | None = None,
        limit: int = 1,
        lease_seconds: float = 300,
    ) -> list[Item]:
        with self._lock:
            self._reclaim_timed_out(now)
            ready = sorted(
                (i for i in self._items.values() if _leasable(i, now, kinds)),
                key=lambda i: (i.priority, i.created_at, i.id),
            )[: max(limit, 0)]
            until = now + timedelta(seconds=lease_seconds)
            out = [dataclasses.replace(i, state="leased", leased_until=until) for i in ready]
            self._items.update((i.id, i) for i in out)
            return out

    def _reclaim_timed_out(self, now: datetime) -> None:
        for item in list(self._items.values()):
            if item.state == "leased" and not _lease_active(item, to_us(now)):
                self._items[item.id] = dataclasses.replace(item, state="ready", leased_until=None)

    def ack(self, item_id: int, *, now: datetime) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                return
            self._remove(item_id)
            self._done[item.key] = _Done(item.id, item.kind, item.size, now)
            self._last_success = max(now, self._last_success or now)

    def nack(self, item_id: int, *, now: datetime, retry_at: datetime, error: str) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is not None and item.state == "leased":
                self._items[item_id] = dataclasses.replace(
                    item, state="ready", leased_until=None, attempts=item.attempts + 1,
                    next_attempt_at=retry_at, last_error=error,
                )

    def release(self, item_id: int) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is not None and item.state == "leased":
                self._items[item_id] = dataclasses.replace(item, state="ready", leased_until=None)

    def give_up(self, item_id: int, *, now: datetime, error: str) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                return
            self._remove(item_id)
            self._drops["give_up"] += 1
            letter = {"id": item.id, "kind": item.kind, "key": item.key, "size": item.size,
                      "attempts": item.attempts, "error": error, "meta": item.meta,
                      "created_at": item.created_at, "given_up_at": now}
            self._dead = [*self._dead, letter][-self._dead_max :]

    def dead_letters(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(letter) for letter in reversed(self._dead)]

    def save_progress(self, item_id: int, progress: Mapping[str, Any]) -> None:
        text = encode_json(progress, "progress")
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                raise ItemGone(f"outbox item {item_id} is no longer held; stop uploading it")
            self._items[item_id] = dataclasses.replace(item, progress=json.loads(text))

    def open_payload(self, item: Item) -> BinaryIO:
        with self._lock:
            payload = self._payloads.get(item.id)
            if payload is None:
                raise ItemGone(f"outbox item {item.id} is no longer held; skip it")
            if hashlib.sha256(payload).hexdigest() != self._items[item.id].sha256:
                self._remove(item.id)
                self._drops["corrupt"] += 1
                raise OutboxCorrupt(item.id, f"outbox item {item.id} payload does not match")
            return io.BytesIO(payload)

    # -- maintenance -----------------------------------------------------------------------
    def expire(self, *, now: datetime) -> int:
        with self._lock:
            self._prune_done(now)
            return self._expire(now)

    def _expire(self, now: datetime) -> int:
        gone = [i.id for i in self._items.values() if _expired(i, now)]
        for item_id in gone:
            self._remove(item_id)
        self._drops["expired"] += len(gone)
        return len(gone)

    def _prune_done(self, now: datetime) -> int:
        old = [k for k, d in self._done.items() if d.done_at < now - self._retention]
        for key in old:
            del self._done[key]
        return len(old)

    def _remove(self, item_id: int) -> None:
        item = self._items.pop(item_id, None)
        if item is not None:
            del self._by_key[item.key]
        self._payloads.pop(item_id, None)

    def recover(self, *, now: datetime) -> RecoveryReport:
        """Simulates what a restart does to the state: leases are reset."""
        with self._lock:
            leased = [i for i in self._items.values() if i.state == "leased"]
            for item in leased:
                self._items[item.id] = dataclasses.replace(item, state="ready", leased_until=None)
            return RecoveryReport(leases_reset=len(leased), done_pruned=self._prune_done(now))

    def stats(self, *, now: datetime) -> OutboxStats:
        with self._lock:
            table = empty_stats_table({i.kind for i in self._items.values()})
            for item in self._items.values():
                cell = table[item.kind][item.state]
                cell["items"] += 1
                cell["bytes"] += item.size
            for done in self._done.values():
                table[done.kind]["done"]["items"] += 1
                table[done.kind]["done"]["bytes"] += done.size
            oldest = min((i.created_at for i in self._items.values()), default=None)
            return OutboxStats(
                by_kind_state=table,
                total_bytes=sum(i.size for i in self._items.values()),
                oldest_ready_age_s=None if oldest is None else (now - oldest).total_seconds(),
                drops={r: self._drops[r] for r in DROP_REASONS},
                last_success_at=self._last_success,
            )

    def close(self) -> None:
        """Nothing to release; kept for the contract."""


class _Holdings:
    """The planner's view of a ``MemoryOutbox`` at one instant."""

    def __init__(self, box: MemoryOutbox, now_us: int) -> None:
        self._box = box
        self._now_us = now_us

    def usage(self) -> Mapping[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for i in self._box._items.values():
            out[(i.kind, i.priority)] = out.get((i.kind, i.priority), 0) + i.size
        return out

    def victims(self, kind: str, priority: int) -> Iterable[Victim]:
        found = [
            Victim(i.id, i.kind, i.priority, i.size, to_us(i.created_at))
            for i in self._box._items.values()
            if i.kind == kind and i.priority == priority and not _lease_active(i, self._now_us)
        ]
        return sorted(found, key=lambda v: v.order_key)

    def thin_cursor(self, kind: str) -> OrderKey | None:
        return self._box._thin.get(kind)


def _new_item(item_id: int, new: NewItem, payload: bytes, now: datetime) -> Item:
    return Item(
        id=item_id, kind=new.kind, key=new.key, priority=new.priority, size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(), created_at=new.created_at,
        expires_at=new.expires_at, attempts=0, state="ready", next_attempt_at=now,
        leased_until=None, last_error=None, meta=json.loads(encode_json(new.meta, "meta")),
        progress={}, content_type=new.content_type,
    )


def _read(new: NewItem) -> bytes:
    """The payload, copied: the outbox owns it even if the source file goes away."""
    if new.data is not None:
        return bytes(new.data)
    assert new.path is not None  # NewItem guarantees exactly one of data and path
    return new.path.read_bytes()


def _lease_active(item: Item, now_us: int) -> bool:
    return item.state == "leased" and item.leased_until is not None and (
        to_us(item.leased_until) > now_us
    )


def _leasable(item: Item, now: datetime, kinds: Collection[str] | None) -> bool:
    return (
        not _lease_active(item, to_us(now))
        and item.next_attempt_at <= now
        and (item.expires_at is None or item.expires_at > now)
        and (kinds is None or item.kind in kinds)
    )


def _expired(item: Item, now: datetime) -> bool:
    return (
        item.expires_at is not None
        and item.expires_at <= now
        and not _lease_active(item, to_us(now))
    )
