"""The outbox's value types: what goes in, what comes out, and how full it may get.

Everything here is a small frozen dataclass so callers (the uplink, the policy, the
status command) can pass them around and compare them without touching storage.
Times are timezone-aware UTC ``datetime`` values; storage keeps integer microseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from fieldagent.errors import FieldAgentError

KINDS = ("alert", "signals", "heartbeat", "model_report", "image")
"""Classes of items; policies set priority and caps per kind. ``alert`` is special: it
is never evicted to make room for another kind."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATES = ("ready", "leased", "done")
State = Literal["ready", "leased", "done"]
WhenFull = Literal["reject_new", "drop_oldest", "thin"]
PutStatus = Literal["accepted", "duplicate", "rejected"]

DROP_REASONS = (
    "cap_reject",
    "evicted_drop_oldest",
    "evicted_thin",
    "expired",
    "corrupt",
    "give_up",
    "unreadable",
)
"""Every way an item can leave the outbox without being delivered. ``unreadable`` (a
``path`` item whose source file could not be read) is an addition to the brief's list."""


class OutboxError(FieldAgentError):
    """Base of the outbox's own errors."""


class OutboxCorrupt(OutboxError):
    """A payload is missing or does not match its recorded size/sha256.

    The item has already been quarantined and dropped (reason ``corrupt``) when this is
    raised: the caller only skips it.
    """

    def __init__(self, item_id: int, message: str) -> None:
        super().__init__(message)
        self.item_id = item_id


class ItemGone(OutboxError, LookupError):
    """The item is no longer in the outbox (delivered, evicted, expired or given up)."""


class OutboxLocked(OutboxError):
    """Another process already owns this outbox directory."""


@dataclass(frozen=True)
class ClassLimits:
    """Byte cap of one kind and what to do when a new item would exceed it.

    ``thin`` evicts every ``thin_every``-th oldest item, walking from the oldest to the
    newest and starting over at the oldest: history gets sparser instead of shorter.
    """

    max_bytes: int | None
    when_full: WhenFull
    thin_every: int = 2

    def __post_init__(self) -> None:
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0 or None, got {self.max_bytes}")
        if self.when_full not in ("reject_new", "drop_oldest", "thin"):
            raise ValueError(f"when_full must be reject_new, drop_oldest or thin: {self.when_full}")
        if self.thin_every < 2:
            raise ValueError(f"thin_every must be >= 2 (1 evicts everything): {self.thin_every}")


KEEP_EXISTING = ClassLimits(None, "reject_new")
"""The limits of a kind the policy does not mention: no own cap, never evicts its own."""


@dataclass(frozen=True)
class Limits:
    """Byte caps of the whole outbox and of each kind (payload bytes held, ready + leased)."""

    total_bytes: int | None
    per_kind: Mapping[str, ClassLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.total_bytes is not None and self.total_bytes < 0:
            raise ValueError(f"total_bytes must be >= 0 or None, got {self.total_bytes}")
        unknown = set(self.per_kind) - set(KINDS)
        if unknown:
            raise ValueError(f"limits for unknown kinds {sorted(unknown)}; kinds are {KINDS}")

    def for_kind(self, kind: str) -> ClassLimits:
        return self.per_kind.get(kind, KEEP_EXISTING)

    @classmethod
    def unlimited(cls) -> Limits:
        return cls(None, {})


@dataclass(frozen=True)
class NewItem:
    """An item to enqueue. ``key`` is the object key it will be uploaded under; it is
    unique in the outbox, so putting it again is an idempotent no-op."""

    kind: str
    key: str
    priority: int
    created_at: datetime
    expires_at: datetime | None = None
    data: bytes | None = None
    path: Path | None = None
    content_type: str = "application/octet-stream"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown outbox kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if not self.key:
            raise ValueError("an outbox item needs a non-empty key (its object key)")
        if self.priority < 0:
            raise ValueError(f"priority must be >= 0 (0 = most urgent), got {self.priority}")
        if (self.data is None) == (self.path is None):
            raise ValueError(f"item {self.key!r}: give exactly one of data= or path=")
        to_us(self.created_at)
        if self.expires_at is not None:
            to_us(self.expires_at)


@dataclass(frozen=True)
class Item:
    """An item held by the outbox, as returned by ``lease``."""

    id: int
    kind: str
    key: str
    priority: int
    size: int
    sha256: str
    created_at: datetime
    expires_at: datetime | None
    attempts: int
    state: State
    next_attempt_at: datetime
    leased_until: datetime | None
    last_error: str | None
    meta: dict[str, Any]
    progress: dict[str, Any]
    content_type: str


@dataclass(frozen=True)
class PutResult:
    """Outcome of one put; ``evicted`` lists the ids dropped to make room for it."""

    status: PutStatus
    item_id: int | None
    reason: str | None = None
    evicted: tuple[int, ...] = ()


@dataclass(frozen=True)
class OutboxStats:
    """Honest numbers for ``fieldagent status`` and the heartbeat.

    ``by_kind_state[kind][state]`` is ``{"items": n, "bytes": payload bytes}``; ``done``
    counts deliveries still remembered for de-duplication. ``total_bytes`` is the payload
    held (ready + leased), the figure the caps apply to. ``oldest_ready_age_s`` is the age
    of the oldest undelivered item (ready or leased), None when there is none.
    ``disk_bytes`` is what the store really occupies (database + WAL + spool), None for
    in-memory stores.
    """

    by_kind_state: dict[str, dict[str, dict[str, int]]]
    total_bytes: int
    oldest_ready_age_s: float | None
    drops: dict[str, int]
    last_success_at: datetime | None
    disk_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["last_success_at"] = self.last_success_at.isoformat() if self.last_success_at else None
        return d


@dataclass(frozen=True)
class RecoveryReport:
    """What ``recover`` found and fixed when the outbox was opened."""

    leases_reset: int = 0
    orphan_files_removed: int = 0
    missing_payloads_dropped: int = 0
    done_pruned: int = 0
    db_quarantined: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["db_quarantined"] = str(self.db_quarantined) if self.db_quarantined else None
        return d


def empty_stats_table(kinds: set[str]) -> dict[str, dict[str, dict[str, int]]]:
    """``by_kind_state`` with zeros for every known kind and state."""
    return {k: {s: {"items": 0, "bytes": 0} for s in STATES} for k in sorted(set(KINDS) | kinds)}


def to_us(when: datetime) -> int:
    """Microseconds since the epoch; refuses naive datetimes (they hide time-zone bugs)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"outbox times must be timezone-aware (UTC), got naive {when!r}")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def opt_from_us(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def encode_json(value: Mapping[str, Any], what: str) -> str:
    """JSON text of ``meta``/``progress``; a non-serialisable value is the caller's bug."""
    try:
        return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outbox {what} must be JSON-serialisable: {exc}") from exc
