"""Signal records packed into compressed batch objects: few, compact uploads that lose nothing.

The batch object's format, key and header are the contract's (``fieldcontract.batch``):
this module decides *when* a batch closes and keeps its records safe until then. A record's
time is its ``ts`` field (ISO 8601 with a zone, or a ``datetime``); a record without one is
dated by the time the batcher accepted it.

**When a batch closes:** at ``max_records`` records, at ``max_bytes`` of uncompressed
record lines, or once its oldest record was accepted ``max_age`` ago, whichever comes
first. Size limits close a batch inside ``add``; the age limit needs ``poll`` to be called
now and then (the agent's scheduler does, every few seconds).

**Durability and its cost:** ``add`` returns only once its records are in the
``RecordJournal`` (one transaction, one fsync for the whole call, none per record), so a
crash or power cut loses nothing that was accepted, and a long ``max_age`` is free. A
closing batch costs three small commits (seal, outbox put, forget; see ``journal``).
The alternative, a short ``max_age`` and memory only, would still lose the last few
minutes on a power cut and would upload many small objects on a metered link.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldagent.offload.journal import ImageMark, Record, RecordJournal, SealedBatch
from fieldagent.outbox.base import Outbox
from fieldagent.outbox.model import NewItem
from fieldagent.policy.model import BatchingPolicy, ClassPolicy
from fieldcontract import keys
from fieldcontract.batch import encode_line, write_batch

log = logging.getLogger(__name__)


class SignalBatcher:
    """Packs signal records (JSON-able dicts) into batch objects in the outbox.

    Parameters
    ----------
    batching
        The policy's ``batching`` section (limits, format).
    site
        Site id used in the key and header (lower-case, see ``fieldcontract.keys``).
    clock
        Returns the current aware UTC time; the only source of "now".
    outbox
        Where closed batches go (``put`` of kind ``signals``).
    journal
        Where accepted records wait; ``None`` keeps them in memory (tests only).
    signals
        The policy's ``signals`` class, for the items' priority and retention.
    """

    def __init__(
        self,
        batching: BatchingPolicy,
        site: str,
        clock: Callable[[], datetime],
        *,
        outbox: Outbox,
        journal: RecordJournal | None = None,
        signals: ClassPolicy | None = None,
    ) -> None:
        self.batching, self.site = batching, keys.check_name("site", site)
        self._clock, self._outbox = clock, outbox
        self._journal = journal or RecordJournal(None)
        self._priority = signals.priority if signals else 1
        self._retention = timedelta(seconds=signals.retention if signals else 30 * 86_400)
        self._lock = threading.RLock()
        self.batches_shipped = 0
        self._open: list[Record] = []
        self._open_bytes = 0
        self._unshipped: list[SealedBatch] = []
        self._recover()

    # -- public ------------------------------------------------------------------------
    @property
    def journal(self) -> RecordJournal:
        """Where accepted records wait; also the ledger of handled images and the
        cameras' checkpoints (``RecordJournal.handled``, ``checkpoints``)."""
        return self._journal

    def add(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        image: ImageMark | None = None,
        checkpoint: tuple[str, str] | None = None,
    ) -> int:
        """Accept records durably (one transaction) and close any batch that is full.

        All or nothing: a record that is not JSON-serialisable raises ``ValueError``
        (naming it) before anything is stored. Returns the number of records accepted:
        0 when ``image`` was already handled (see ``RecordJournal.append``, which also
        explains ``checkpoint``).
        """
        if not records and image is None and checkpoint is None:
            return 0
        now = self._clock()
        rows = [_encode(i, r, now) for i, r in enumerate(records)]
        with self._lock:
            accepted = self._journal.append(rows, now=now, image=image, checkpoint=checkpoint)
            for record in accepted:
                self._open.append(record)
                self._open_bytes += _line_bytes(record)
            self._close_due(now)
        return len(accepted)

    def poll(self) -> int:
        """Close the open batch if its oldest record reached ``max_age``; returns batches sent
        to the outbox. Cheap when nothing is due: call it every few seconds."""
        with self._lock:
            return self._close_due(self._clock())

    def flush(self) -> int:
        """Close whatever is open now, e.g. before a planned power-down of the link."""
        with self._lock:
            now = self._clock()
            shipped = self._close_due(now)
            if self._open:
                shipped += self._seal_and_ship(len(self._open), now)
            return shipped

    @property
    def pending(self) -> int:
        """Records accepted but not yet in a batch object."""
        return len(self._open)

    def close(self) -> None:
        """Release the journal (nothing is lost: open records wait there for next time)."""
        self._journal.close()

    # -- internals ---------------------------------------------------------------------
    def _recover(self) -> None:
        """After a restart: ship batches sealed before the crash, then reload open records."""
        self._unshipped = self._journal.sealed()
        self._retry_unshipped()
        self._open = self._journal.open_records()
        self._open_bytes = sum(_line_bytes(r) for r in self._open)
        if self._open:
            log.info("signal batcher: %d records accepted before the restart are back in the "
                     "open batch", len(self._open))

    def _retry_unshipped(self) -> int:
        waiting, self._unshipped = self._unshipped, []
        return sum(self._ship(sealed) for sealed in waiting)

    def _close_due(self, now: datetime) -> int:
        shipped = self._retry_unshipped() if self._unshipped else 0
        while self._open and (n := self._full_prefix()) > 0:
            shipped += self._seal_and_ship(n, now)
        age = (now - self._open[0].accepted_at).total_seconds() if self._open else 0.0
        if self._open and age >= self.batching.max_age:
            shipped += self._seal_and_ship(len(self._open), now)
        return shipped

    def _full_prefix(self) -> int:
        """How many open records make a full batch (0: the open batch is not full yet)."""
        limit, count, size = self.batching.max_bytes, 0, 0
        for record in self._open:
            step = _line_bytes(record)
            if count == self.batching.max_records or (count and size + step > limit):
                return count
            count, size = count + 1, size + step
        full = count == self.batching.max_records or size >= limit
        return count if full else 0

    def _seal_and_ship(self, n: int, now: datetime) -> int:
        batch, self._open = self._open[:n], self._open[n:]
        self._open_bytes -= sum(_line_bytes(r) for r in batch)
        sealed = self._journal.seal([r.seq for r in batch], now=now)
        return self._ship(sealed)

    def _ship(self, sealed: SealedBatch) -> int:
        """Put one sealed batch into the outbox and forget it; on an outbox error it stays
        sealed in the journal and is tried again at the next ``add``/``poll``."""
        item = build_item(sealed, self.batching, self.site, self._priority, self._retention)
        try:
            result = self._outbox.put(item, now=self._clock())
        except Exception:
            log.exception("signal batch %s (%d records) could not be put into the outbox; "
                          "it stays sealed in the journal and is tried again shortly",
                          item.key, len(sealed.records))
            self._unshipped.append(sealed)
            return 0
        if result.status == "rejected":
            log.warning("outbox refused signal batch %s (%d records): %s; the batch is dropped "
                        "(see `fieldagent outbox stats`, drops.cap_reject)",
                        item.key, len(sealed.records), result.reason)
        self._journal.forget(sealed.no)
        self.batches_shipped += result.status == "accepted"
        return 1


def build_item(
    sealed: SealedBatch, batching: BatchingPolicy, site: str, priority: int,
    retention: timedelta,
) -> NewItem:
    """The outbox item of one sealed batch: a pure function of its records, so a batch
    rebuilt after a crash is byte-for-byte the same object under the same key."""
    records = sealed.records
    batch = write_batch(site, [r.line for r in records], [r.ts for r in records],
                        batching.format)
    return NewItem(
        kind=keys.SIGNALS,
        key=batch.key,
        priority=priority,
        created_at=sealed.sealed_at,
        expires_at=sealed.sealed_at + retention,
        data=batch.data,
        content_type=batch.content_type,
        meta={"records": len(records), "object_metadata": batch.metadata},
    )


def _encode(index: int, record: Mapping[str, Any], now: datetime) -> tuple[str, datetime]:
    """Canonical JSON line of one record and its time."""
    try:
        line = encode_line(record)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"signal record #{index} cannot be stored as JSON ({exc}): "
                         f"{dict(record)!r:.200}; nothing of this call was accepted") from exc
    return line, _record_time(record.get("ts"), now)


def _record_time(value: Any, accepted: datetime) -> datetime:
    """A record's own time, in UTC; the acceptance time if it has none we can read."""
    when = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return accepted
    if not isinstance(when, datetime):
        return accepted
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _line_bytes(record: Record) -> int:
    return len(record.line.encode("utf-8")) + 1

