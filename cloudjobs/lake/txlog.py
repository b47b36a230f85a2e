"""Lake transactions: stage, commit with one create-only write, publish; roll forward after crashes.

Every change to the curated datasets of a site (an ingest chunk, a compaction) is one
transaction ``txn`` in three steps (docs/lake.md tells the whole protocol):

1. **stage**: its Parquet files go to ``staging/site=<s>/<txn>/<curated key>``, then its
   manifest ``_txn.json`` (what it ingests, rejects, adds, removes). Readers never look there.
2. **commit**: the manifest is written create-only as ``state/ingest/site=<s>/log/<seq>.json``
   with ``seq`` one past the last commit seen. This single atomic write is the commit point:
   before it, nothing happened (the raw objects are not consumed, the staged files are
   garbage); after it, everything did. If another run took ``seq`` first, the log is read
   up to date and the commit retried at the next number, unless that run consumed one of
   the same raw objects (or removed one of the same files): then this one gives up
   (``CommitConflict``) instead of double counting.
3. **publish**: files it removes are deleted, staged files are copied to their curated keys,
   then staging is deleted, manifest last. A crash here leaves the manifest, and the next
   run on the site finishes the job (``recover``), because the log says it committed.

The log is the ledger of consumed raw keys; ``checkpoint/<seq>.parquet`` folds it up every
few dozen commits so a run reads one checkpoint plus the commits after it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from cloudjobs.lake import layout
from cloudjobs.lake.errors import LakeError
from cloudjobs.lake.parquet import read_table, table_bytes
from cloudjobs.store import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)


class CommitConflict(LakeError):
    """Another run committed the same raw objects (or compacted the same files) first."""


@dataclass(frozen=True)
class Rejection:
    """A raw object set aside, and why."""

    key: str
    reason: str


@dataclass(frozen=True)
class Transaction:
    """What one commit changes (the manifest and the log entry hold exactly this)."""

    txn: str
    op: str
    site: str
    ingested: tuple[str, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    adds: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)

    @property
    def consumed(self) -> set[str]:
        """Raw keys this transaction takes off the to-do list (ingested or rejected)."""
        return {*self.ingested, *(r.key for r in self.rejected)}

    def to_json(self) -> bytes:
        doc = {
            "txn": self.txn, "op": self.op, "site": self.site, "ingested": list(self.ingested),
            "rejected": [{"key": r.key, "reason": r.reason} for r in self.rejected],
            "adds": list(self.adds), "removes": list(self.removes), "rows": dict(self.rows),
        }
        return json.dumps(doc, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Transaction:
        try:
            doc = json.loads(data)
            return cls(
                doc["txn"], doc["op"], doc["site"], tuple(doc["ingested"]),
                tuple(Rejection(r["key"], r["reason"]) for r in doc["rejected"]),
                tuple(doc["adds"]), tuple(doc["removes"]), dict(doc["rows"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LakeError(f"{where} is not a lake transaction ({exc!r}); it was not written "
                            "by cloudjobs or was damaged: move it away and run again") from exc


@dataclass
class SiteLog:
    """The committed state of one site as far as this run has read the log."""

    site: str
    seq: int = 0
    checkpoint_seq: int = 0
    consumed: dict[str, str] = field(default_factory=dict)
    txns: set[str] = field(default_factory=set)

    def apply(self, seq: int, t: Transaction) -> None:
        self.consumed.update(dict.fromkeys(t.consumed, t.txn))
        self.txns.add(t.txn)
        self.seq = max(self.seq, seq)


def load_log(store: ObjectStore, site: str) -> SiteLog:
    """The site's committed state: the newest checkpoint plus every commit after it."""
    state = SiteLog(site)
    checkpoints = [s for o in store.list(layout.checkpoint_prefix(site))
                   if (s := layout.seq_of(o.key)) is not None]
    if checkpoints:
        newest = max(checkpoints)
        _load_checkpoint(state, read_table(store.get(layout.checkpoint_key(site, newest))))
        state.seq = state.checkpoint_seq = newest
    catch_up(store, state)
    return state


def catch_up(store: ObjectStore, state: SiteLog, pending: Transaction | None = None) -> None:
    """Read commits newer than ``state.seq``; with ``pending``, raise ``CommitConflict`` if
    one of them consumed the same raw keys or removed the same files."""
    newer = sorted(s for o in store.list(layout.log_prefix(state.site))
                   if (s := layout.seq_of(o.key)) is not None and s > state.seq)
    for seq in newer:
        key = layout.log_key(state.site, seq)
        other = Transaction.from_json(store.get(key), f"{store.url} {key}")
        if pending is not None:
            _check_conflict(pending, other)
        state.apply(seq, other)


def _check_conflict(mine: Transaction, other: Transaction) -> None:
    both = mine.consumed & other.consumed
    removed = set(mine.removes) & set(other.removes)
    if both or removed:
        what = f"{len(both)} raw objects" if both else f"{len(removed)} curated files"
        raise CommitConflict(
            f"site {mine.site}: another run (transaction {other.txn}) committed {what} that "
            f"transaction {mine.txn} also handled; nothing of {mine.txn} was committed. Run "
            "the job again (it picks up what is left), and avoid two runs on one site at once"
        )


def stage(store: ObjectStore, t: Transaction, files: Mapping[str, bytes]) -> None:
    """Step 1: the transaction's files, then its manifest, under staging."""
    for final, data in files.items():
        store.put(layout.staged_key(t.site, t.txn, final), data)
    store.put(layout.manifest_key(t.site, t.txn), t.to_json())


def commit(store: ObjectStore, state: SiteLog, t: Transaction, *, attempts: int = 50) -> int:
    """Step 2: append ``t`` to the site's log with a create-only write; returns its seq."""
    if not store.exists(layout.manifest_key(t.site, t.txn)):
        raise LakeError(f"site {t.site}: the staged files of transaction {t.txn} are gone "
                        "(another run cleaned them up as stale); nothing was committed: run "
                        "the job again, and raise --stale-after if runs take that long")
    for _ in range(attempts):
        seq = state.seq + 1
        if store.put(layout.log_key(t.site, seq), t.to_json(), create_only=True):
            state.apply(seq, t)
            return seq
        catch_up(store, state, pending=t)
    raise CommitConflict(f"site {t.site}: {attempts} other commits came in while transaction "
                         f"{t.txn} tried to commit; run the job again when fewer run at once")


def publish(store: ObjectStore, t: Transaction) -> None:
    """Step 3 (idempotent, so a crash anywhere in it is finished by running it again)."""
    for key in t.removes:
        store.delete(key)
    for key in t.adds:
        try:
            store.copy(layout.staged_key(t.site, t.txn, key), key)
        except ObjectNotFound:
            if not store.exists(key):
                raise LakeError(
                    f"site {t.site}: committed transaction {t.txn} lost its staged file for "
                    f"{key} before it was published; re-ingest its raw objects (listed in "
                    f"{layout.log_prefix(t.site)}) after removing that log entry"
                ) from None
    for key in t.adds:
        store.delete(layout.staged_key(t.site, t.txn, key))
    store.delete(layout.manifest_key(t.site, t.txn))


def discard(store: ObjectStore, site: str, txn: str) -> None:
    """Delete an uncommitted transaction's staging (manifest last: a crash repeats this)."""
    manifest = layout.manifest_key(site, txn)
    for info in list(store.list(layout.staging_prefix(site, txn))):
        if info.key != manifest:
            store.delete(info.key)
    store.delete(manifest)


def in_progress(store: ObjectStore, site: str) -> list[str]:
    """Transactions of the site that still have staged objects (unpublished or uncommitted).

    Objects, not folders: some S3 servers (SeaweedFS) keep listing a "folder" after its
    last object is deleted. Staging is empty between runs, so this listing is short."""
    prefix = layout.staging_site_prefix(site)
    return sorted({o.key[len(prefix):].split("/", 1)[0] for o in store.list(prefix)})


@dataclass(frozen=True)
class Recovery:
    """What ``recover`` found: committed transactions it finished publishing, uncommitted
    stale ones it discarded, and fresh uncommitted ones it left to their (live) runs."""

    rolled_forward: tuple[str, ...] = ()
    discarded: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()


def recover(store: ObjectStore, state: SiteLog, now: datetime, stale_after: timedelta) -> Recovery:
    """Finish what crashed runs left: publish committed transactions, discard stale ones."""
    leftovers = in_progress(store, state.site)
    if leftovers:
        catch_up(store, state)  # a transaction may have committed since the log was read
    done, dropped, waiting = [], [], []
    for txn in leftovers:
        if txn in state.txns:
            _finish(store, state.site, txn)
            done.append(txn)
            continue
        started = layout.txn_started(txn)
        if started is not None and now - started < stale_after:
            waiting.append(txn)
            continue
        discard(store, state.site, txn)
        dropped.append(txn)
    if done or dropped:
        log.info("site %s: finished publishing %d committed transactions, discarded %d "
                 "uncommitted ones", state.site, len(done), len(dropped))
    return Recovery(tuple(done), tuple(dropped), tuple(waiting))


def _finish(store: ObjectStore, site: str, txn: str) -> None:
    """Publish a committed transaction from its manifest. Without a manifest its copies are
    all made (publish deletes the manifest last), so only leftover staging is removed."""
    key = layout.manifest_key(site, txn)
    try:
        t = Transaction.from_json(store.get(key), f"{store.url} {key}")
    except ObjectNotFound:
        discard(store, site, txn)
        return
    publish(store, t)


def maybe_checkpoint(store: ObjectStore, state: SiteLog, every: int) -> bool:
    """Fold the log into ``checkpoint/<seq>.parquet`` once ``every`` commits came after the
    last one. Derived data: losing it costs time, never correctness."""
    if every <= 0 or state.seq - state.checkpoint_seq < every:
        return False
    keys = sorted(state.consumed)
    bare = sorted(state.txns - set(state.consumed.values()))  # e.g. compactions
    table = pa.table({
        "key": pa.array([*keys, *([None] * len(bare))], pa.string()),
        "txn": pa.array([state.consumed[k] for k in keys] + bare, pa.string()),
    })
    store.put(layout.checkpoint_key(state.site, state.seq), table_bytes(table), create_only=True)
    state.checkpoint_seq = state.seq
    return True


def _load_checkpoint(state: SiteLog, table: pa.Table) -> None:
    data: dict[str, Any] = table.to_pydict()
    for key, txn in zip(data["key"], data["txn"], strict=True):
        state.txns.add(txn)
        if key is not None:
            state.consumed[key] = txn
