"""The durable outbox: everything the device sends waits here until it is delivered.

``SqliteOutbox`` is the durable store (SQLite WAL + spool files); ``MemoryOutbox`` the
in-memory reference used by other modules' unit tests. The contract is in ``base``.
"""

from fieldagent.outbox.base import Clock, Outbox, system_clock
from fieldagent.outbox.memory import MemoryOutbox
from fieldagent.outbox.model import (
    DROP_REASONS,
    KINDS,
    ClassLimits,
    Item,
    ItemGone,
    Limits,
    NewItem,
    OutboxCorrupt,
    OutboxError,
    OutboxLocked,
    OutboxStats,
    PutResult,
    RecoveryReport,
    State,
)
from fieldagent.outbox.sqlite import SqliteOutbox

__all__ = [
    "DROP_REASONS",
    "KINDS",
    "ClassLimits",
    "Clock",
    "Item",
    "ItemGone",
    "Limits",
    "MemoryOutbox",
    "NewItem",
    "Outbox",
    "OutboxCorrupt",
    "OutboxError",
    "OutboxLocked",
    "OutboxStats",
    "PutResult",
    "RecoveryReport",
    "SqliteOutbox",
    "State",
    "system_clock",
]
