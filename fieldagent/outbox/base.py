"""The outbox contract: what every implementation promises (``SqliteOutbox``, ``MemoryOutbox``).

The outbox holds everything the device wants to send (alerts, signal records,
heartbeats, model reports, images) until the uplink has delivered it, across restarts,
power cuts and weeks offline, inside a byte budget. One behaviour test suite
(``tests/outbox/test_outbox_contract.py``) runs against every implementation.

**Items and keys.** ``put`` takes a ``NewItem`` whose ``key`` is the object key it will
be uploaded under (deterministic, content-derived). Keys are unique: putting a key that
is held, or was delivered within the done-retention window, returns ``duplicate`` with
the existing id and changes nothing. Exactly-once delivery rests on two legs: this
de-duplication, and the uplink's create-only writes (``If-None-Match: *``) so that an
item re-sent after a lost ack cannot overwrite or duplicate the object.

**Life cycle.** ``ready --lease--> leased --ack--> done``; ``nack`` returns it to ready
with ``attempts + 1`` and ``next_attempt_at = retry_at`` (the backoff is the caller's);
``release`` returns it to ready without counting an attempt (preemption); ``give_up``
removes it to a small dead-letter table. A lease is a visibility timeout: once
``leased_until`` has passed without ack/nack the item can be leased again. Lease order is
``priority`` (0 = most urgent), then ``created_at``, then ``id``; items whose
``next_attempt_at`` is in the future or whose ``expires_at`` has passed are not leased.

**Idempotent endings.** ``ack``, ``nack``, ``release`` and ``give_up`` of an id that is no
longer held are no-ops (the item was evicted, expired or already acked; the uplink need
not care). ``ack`` of a ready item (its lease timed out) still marks it done: the upload
happened. ``nack``/``release`` only act on leased items. ``save_progress`` and
``open_payload`` raise ``ItemGone`` so an uploader stops work on an item that vanished.

**Caps.** Payload bytes held (ready + leased) are capped per kind and in total; see
``fieldagent.outbox.caps`` for the exact eviction rules. Alerts are never evicted to make
room for another kind; an alert may evict less urgent items. A rejected put evicts
nothing. Every drop is counted in ``stats().drops`` by reason.

**Batching.** ``put_many`` is one transaction: all of it is durable when it returns, or
(on an exception) none of it is. ``ack_many`` likewise (an addition to the brief).

**Payloads.** ``open_payload`` returns a binary file object positioned at 0 after checking
size and sha256; a payload that is missing or does not match is quarantined, its item
dropped with reason ``corrupt``, and ``OutboxCorrupt`` raised: never a crash.

**Time.** Every method that needs "now" takes it as an aware UTC ``datetime``; the
constructor's ``clock`` is used only for work done at open (recovery, quarantine names).

**Recovery.** ``recover`` runs at open: leases left by a crash become ready again (no
attempt counted), payload files and rows that do not match are reconciled, old done rows
pruned. Call it again only when no upload is in flight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO

from fieldagent.outbox.model import (
    Item,
    NewItem,
    OutboxStats,
    PutResult,
    RecoveryReport,
)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: the only place the outbox reads the wall clock."""
    return datetime.now(UTC)


class Outbox(ABC):
    """Durable, capped, prioritised queue of items to upload (module docstring)."""

    def put(self, item: NewItem, *, now: datetime) -> PutResult:
        """Enqueue one item; durable when this returns ``accepted``."""
        return self.put_many([item], now=now)[0]

    @abstractmethod
    def put_many(self, items: Sequence[NewItem], *, now: datetime) -> list[PutResult]:
        """Enqueue a batch in one transaction (one disk sync for the whole batch)."""

    @abstractmethod
    def lease(
        self,
        *,
        now: datetime,
        kinds: Collection[str] | None = None,
        limit: int = 1,
        lease_seconds: float = 300,
    ) -> list[Item]:
        """Take up to ``limit`` ready items (of ``kinds``) in lease order, hidden until
        ``now + lease_seconds`` or their ack/nack/release."""

    @abstractmethod
    def ack(self, item_id: int, *, now: datetime) -> None:
        """Delivered: the item becomes done and its payload is removed."""

    def ack_many(self, item_ids: Iterable[int], *, now: datetime) -> None:
        """Ack several items (implementations do it in one transaction)."""
        for item_id in item_ids:
            self.ack(item_id, now=now)

    @abstractmethod
    def nack(self, item_id: int, *, now: datetime, retry_at: datetime, error: str) -> None:
        """A failed attempt: back to ready, ``attempts + 1``, not leased before ``retry_at``."""

    @abstractmethod
    def release(self, item_id: int) -> None:
        """Back to ready without counting an attempt (preempted by something urgent)."""

    @abstractmethod
    def give_up(self, item_id: int, *, now: datetime, error: str) -> None:
        """Permanently failed: removed, counted as ``give_up``, kept as a dead letter."""

    @abstractmethod
    def dead_letters(self) -> list[dict[str, Any]]:
        """The kept given-up items, newest first: id, kind, key, size, attempts, error,
        meta, created_at, given_up_at (an addition to the brief, for ``status``)."""

    @abstractmethod
    def save_progress(self, item_id: int, progress: Mapping[str, Any]) -> None:
        """Store resumable-upload state (upload id, finished parts) durably."""

    @abstractmethod
    def open_payload(self, item: Item) -> BinaryIO:
        """The verified payload, as a binary file positioned at 0."""

    @abstractmethod
    def expire(self, *, now: datetime) -> int:
        """Drop items whose ``expires_at`` has passed (not those under an active lease)."""

    @abstractmethod
    def stats(self, *, now: datetime) -> OutboxStats:
        """Backlog, bytes, oldest age, drops by reason, last success."""

    @abstractmethod
    def recover(self, *, now: datetime) -> RecoveryReport:
        """Repair what a crash left behind; runs at open."""

    @abstractmethod
    def close(self) -> None:
        """Release files and locks; the object is unusable afterwards."""

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
