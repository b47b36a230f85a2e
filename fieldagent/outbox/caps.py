"""Byte caps: decide, before anything changes, whether a new item fits and what it evicts.

The rules, shared by every outbox implementation so they cannot drift apart:

1. **Class cap.** If the item's kind would exceed its own ``max_bytes``: ``reject_new``
   rejects it; ``drop_oldest`` evicts the oldest items of that kind; ``thin`` evicts
   every n-th oldest item of that kind (see ``thin_order``).
2. **Total cap.** If the whole outbox would exceed ``total_bytes``, less urgent items
   give way to more urgent ones: a new item may evict items of *other* kinds only when
   they are strictly less urgent (larger ``priority``) and never ``alert`` items; it may
   evict items of its *own* kind (same or lower urgency) only when its kind's
   ``when_full`` is ``drop_oldest`` or ``thin``. Victims go least urgent first; within a
   priority, kinds in reverse ``KINDS`` order (images first); within a kind, in that
   kind's order (oldest first, or thinning order).
3. Items under an active lease are in flight and never evicted; items more urgent than
   the new one are never evicted.
4. If the item does not fit after every allowed eviction it is rejected and *nothing*
   is evicted. So the caps hold exactly, at all times.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fieldagent.outbox.model import KINDS, ClassLimits, Limits

OrderKey = tuple[int, int]  # (created_at in µs, id): the age order of a kind's items


@dataclass(frozen=True)
class Victim:
    """An item that could be evicted: just what the planner needs."""

    id: int
    kind: str
    priority: int
    size: int
    created_us: int

    @property
    def order_key(self) -> OrderKey:
        return (self.created_us, self.id)


class Holdings(Protocol):
    """The planner's read-only view of what an outbox holds right now."""

    def usage(self) -> Mapping[tuple[str, int], int]:
        """Payload bytes held (ready + leased) by (kind, priority)."""

    def victims(self, kind: str, priority: int) -> Iterable[Victim]:
        """Evictable items of one kind and priority, oldest first (may be lazy)."""

    def thin_cursor(self, kind: str) -> OrderKey | None:
        """Where the last thinning pass of this kind stopped (None: at the start)."""


@dataclass(frozen=True)
class Plan:
    """The outcome of planning one put: evictions to apply, or a rejection reason."""

    reject: str | None
    evict: tuple[tuple[Victim, str], ...] = ()
    thin_cursors: Mapping[str, OrderKey] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.reject is None


def thin_order(items: list[Victim], every: int, after: OrderKey | None) -> Iterator[Victim]:
    """Eviction order of ``thin``: every ``every``-th item walking oldest to newest,
    continuing after ``after`` (the previous pass's position) and starting over at the
    oldest when the walk reaches the newest. Each item taken is removed from the walk,
    so repeated passes keep an evenly sparser history rather than a shorter one."""
    rest = list(items)
    i = 0 if after is None else bisect.bisect_right([v.order_key for v in rest], after)
    while rest:
        if len(rest) < every:
            yield from rest
            return
        j = i + every - 1
        if j >= len(rest):
            i = 0
            continue
        yield rest.pop(j)
        i = j


class _Planner:
    """Accumulates victims across the class-cap and total-cap steps of one put."""

    def __init__(self, limits: Limits, held: Holdings) -> None:
        self.limits = limits
        self.held = held
        self.chosen: dict[int, tuple[Victim, str]] = {}
        self.cursors: dict[str, OrderKey] = {}
        self.freed_by_kind: dict[str, int] = {}

    def free(self, need: int, streams: Iterable[tuple[str, int]]) -> bool:
        """Take victims from the (kind, priority) streams until ``need`` bytes are freed."""
        freed = 0
        for kind, priority in streams:
            stream = self._stream(kind, priority)
            while freed < need and (taken := next(stream, None)) is not None:
                victim, _reason = taken
                self.chosen[victim.id] = taken
                self.freed_by_kind[kind] = self.freed_by_kind.get(kind, 0) + victim.size
                freed += victim.size
        return freed >= need

    def _stream(self, kind: str, priority: int) -> Iterator[tuple[Victim, str]]:
        rule = self.limits.for_kind(kind)
        fresh = (v for v in self.held.victims(kind, priority) if v.id not in self.chosen)
        if rule.when_full != "thin":
            yield from ((v, "evicted_drop_oldest") for v in fresh)
            return
        cursor = self.cursors.get(kind) or self.held.thin_cursor(kind)
        for v in thin_order(list(fresh), rule.thin_every, cursor):
            self.cursors[kind] = v.order_key
            yield v, "evicted_thin"

    def plan(self) -> Plan:
        return Plan(None, tuple(self.chosen.values()), dict(self.cursors))


def plan_put(limits: Limits, held: Holdings, *, kind: str, priority: int, size: int) -> Plan:
    """Decide whether an item of ``size`` bytes fits, and what it evicts (module rules)."""
    own = limits.for_kind(kind)
    if own.max_bytes is None and limits.total_bytes is None:
        return Plan(None)  # nothing can bind: skip reading the usage
    usage = held.usage()
    by_kind: dict[str, int] = {}
    for (k, _p), b in usage.items():
        by_kind[k] = by_kind.get(k, 0) + b
    planner = _Planner(limits, held)
    kind_used = by_kind.get(kind, 0)
    if own.max_bytes is not None and kind_used + size > own.max_bytes:
        why = _class_full(kind, own, size, kind_used)
        if own.when_full == "reject_new" or size > own.max_bytes:
            return Plan(why)
        if not planner.free(kind_used + size - own.max_bytes, _own_streams(usage, kind, priority)):
            return Plan(why + "; nothing evictable of the same kind is left")
    total_used = sum(by_kind.values()) - sum(planner.freed_by_kind.values())
    cap = limits.total_bytes
    if cap is not None and total_used + size > cap:
        why = f"outbox total cap of {cap} bytes is full ({total_used} held, item is {size})"
        if size > cap:
            return Plan(why)
        streams = _total_streams(usage, kind, priority, own)
        if not planner.free(total_used + size - cap, streams):
            return Plan(why + "; no less urgent item may be evicted")
    return planner.plan()


def _class_full(kind: str, own: ClassLimits, size: int, used: int) -> str:
    return (
        f"kind {kind!r} cap of {own.max_bytes} bytes is full ({used} held, item is {size}, "
        f"when_full={own.when_full})"
    )


def _own_streams(
    usage: Mapping[tuple[str, int], int], kind: str, priority: int
) -> list[tuple[str, int]]:
    prios = sorted({p for (k, p) in usage if k == kind and p >= priority}, reverse=True)
    return [(kind, p) for p in prios]


def _total_streams(
    usage: Mapping[tuple[str, int], int], kind: str, priority: int, own: ClassLimits
) -> list[tuple[str, int]]:
    """(kind, priority) streams a new item may evict from, least urgent first."""
    rank = {k: i for i, k in enumerate(reversed(KINDS))}
    streams = []
    for k, p in usage:
        if k == kind:
            allowed = own.when_full != "reject_new" and p >= priority
        else:
            allowed = k != "alert" and p > priority
        if allowed:
            streams.append((k, p))
    return sorted(streams, key=lambda s: (-s[1], rank.get(s[0], -1), s[0]))
