"""Multipart uploads that resume instead of starting over, one part per call.

A large payload goes up in parts of ``part_size`` bytes. After every part the upload id
and the finished parts (number, ETag, SHA-256, size) are saved in the outbox item's
``progress`` (a durable commit), so a restart or a dropped link costs at most the part in
flight. The uploader calls ``MultipartSender.step`` once per unit of work and may send
something more urgent between two calls.

Resuming trusts the server, not only the saved progress: the first step of an upload in a
process (and the first after a failed part) lists the server's parts and reconciles.

* a part the server holds but the progress lacks (the process died between the part's
  answer and the commit) is adopted, with its SHA-256 from the local bytes
  (``Part.with_local_copy``), instead of being sent again;
* a saved part the server does not list (or lists with disagreeing copies, as SeaweedFS
  does after a re-sent number) is sent again, and completion names the exact copy
  ``put_part`` returned;
* an upload id the server no longer knows means either an earlier completion got through
  (the object exists: done) or the upload expired (``UploadGone``: the uploader restarts).

Before a *new* upload of an item that was tried before, one HEAD checks whether the object
is already there, so a lost answer never makes the device send a large body again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, TypeVar

from fieldagent.outbox.base import Outbox
from fieldagent.outbox.model import Item
from fieldagent.uplink.errors import UploadGone
from fieldagent.uplink.transport import Part, Transport

T = TypeVar("T")
Call = Callable[[Callable[[], T]], T]


@dataclass(frozen=True)
class Progress:
    """What is saved in ``Item.progress`` (JSON): enough to resume after a restart."""

    upload_id: str | None = None
    part_size: int = 0
    parts: tuple[Part, ...] = ()
    restarts: int = 0
    put_started: bool = False  # single puts: a large body may already have arrived

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> Progress:
        parts = tuple(Part(int(p["n"]), str(p["etag"]), str(p["sha"]), int(p["size"]))
                      for p in raw.get("parts", ()))
        return cls(raw.get("upload_id"), int(raw.get("part_size", 0)), parts,
                   int(raw.get("restarts", 0)), bool(raw.get("put_started", False)))

    def dump(self) -> dict[str, Any]:
        return {
            "upload_id": self.upload_id, "part_size": self.part_size,
            "parts": [{"n": p.number, "etag": p.etag, "sha": p.sha256_b64, "size": p.size}
                      for p in self.parts],
            "restarts": self.restarts, "put_started": self.put_started,
        }

    def with_part(self, part: Part) -> Progress:
        others = tuple(p for p in self.parts if p.number != part.number)
        return replace(self, parts=tuple(sorted((*others, part), key=lambda p: p.number)))


@dataclass(frozen=True)
class PartResult:
    """What one ``step`` did: sent a part, or finished the object (``created`` False: it was
    already there). ``nbytes``/``seconds`` measure the part sent, for the throughput."""

    completed: bool
    number: int | None = None
    nbytes: int = 0
    seconds: float = 0.0
    created: bool | None = None
    adopted: int = 0


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def read_part(payload: BinaryIO, number: int, size: int, part_size: int) -> bytes:
    """The bytes of part ``number`` (1-based) of a payload of ``size`` bytes."""
    offset = (number - 1) * part_size
    payload.seek(offset)
    return payload.read(min(part_size, size - offset))


@dataclass
class MultipartSender:
    """Sends multipart uploads a part per ``step`` (module docstring). ``call`` wraps every
    transport request (the uploader's circuit breaker); ``timer`` measures transfers."""

    outbox: Outbox
    transport: Transport
    call: Call[Any]
    timer: Callable[[], float]
    part_size: int
    reconciled: set[str] = field(default_factory=set)

    def progress(self, item: Item) -> Progress:
        prog = Progress.load(item.progress)
        return prog if prog.part_size else replace(prog, part_size=self.part_size)

    def next_bytes(self, item: Item) -> int:
        """Bytes the next ``step`` will send (for the bandwidth permit)."""
        prog = self.progress(item)
        done = {p.number for p in prog.parts}
        for n in range(1, part_count(item.size, prog.part_size) + 1):
            if n not in done:
                return min(prog.part_size, item.size - (n - 1) * prog.part_size)
        return 0

    def step(self, item: Item, payload: BinaryIO) -> PartResult:
        """Begin or resume the upload, send the next missing part, complete after the last."""
        prog = self.progress(item)
        if prog.upload_id is None:
            if (prog.restarts or item.attempts) and self._exists(item):
                return PartResult(completed=True, created=False)
            prog = self._begin(item, prog)
        adopted = 0
        if prog.upload_id not in self.reconciled:
            found = self._reconcile(item, prog, payload)
            if found is None:
                return PartResult(completed=True, created=False)
            adopted = len(found.parts) - len(prog.parts)
            prog = found
        return self._send_next(item, prog, payload, max(adopted, 0))

    def restart(self, item: Item) -> int:
        """The upload id is gone: drop it (best effort) and start over at the next step.
        Returns how many times this item has been restarted."""
        prog = self.progress(item)
        self.abort(item)
        fresh = Progress(part_size=prog.part_size, restarts=prog.restarts + 1)
        self.outbox.save_progress(item.id, fresh.dump())
        return fresh.restarts

    def abort(self, item: Item) -> None:
        """Drop the item's upload on the server, best effort: it is housekeeping only (a
        bucket lifecycle rule for incomplete uploads cleans up what this misses)."""
        upload_id = Progress.load(item.progress).upload_id
        if upload_id:
            self.reconciled.discard(upload_id)
            with suppress(Exception):
                self.call(lambda: self.transport.abort_multipart(item.key, upload_id))

    def forget(self, item: Item) -> None:
        """A part failed on the link: list the server's parts again before the next one."""
        upload_id = Progress.load(item.progress).upload_id
        if upload_id:
            self.reconciled.discard(upload_id)

    # -- internals ---------------------------------------------------------------------
    def _exists(self, item: Item) -> bool:
        return bool(self.call(lambda: self.transport.exists(item.key)))

    def _begin(self, item: Item, prog: Progress) -> Progress:
        upload_id = self.call(lambda: self.transport.begin_multipart(
            item.key, content_type=item.content_type,
            metadata={**object_metadata(item), "sha256": item.sha256},
        ))
        prog = replace(prog, upload_id=str(upload_id), parts=())
        self.outbox.save_progress(item.id, prog.dump())
        self.reconciled.add(str(upload_id))
        return prog

    def _reconcile(self, item: Item, prog: Progress, payload: BinaryIO) -> Progress | None:
        """Progress matched against the server's list; None if the object already exists."""
        upload_id = str(prog.upload_id)
        try:
            listed = self.call(lambda: self.transport.list_parts(item.key, upload_id))
        except UploadGone:
            if self._exists(item):
                return None
            raise
        saved = {p.number: p for p in prog.parts}
        kept: list[Part] = []
        for server in listed:
            mine = saved.get(server.number)
            if mine is not None and mine.etag == server.etag:
                kept.append(mine)
                continue
            data = read_part(payload, server.number, item.size, prog.part_size)
            try:
                kept.append(server.with_local_copy(data))
            except ValueError:
                continue  # the server holds other bytes for this number: send it again
        fixed = replace(prog, parts=tuple(kept))
        if fixed != prog:
            self.outbox.save_progress(item.id, fixed.dump())
        self.reconciled.add(upload_id)
        return fixed

    def _send_next(self, item: Item, prog: Progress, payload: BinaryIO, adopted: int) -> PartResult:
        total = part_count(item.size, prog.part_size)
        done = {p.number for p in prog.parts}
        missing = [n for n in range(1, total + 1) if n not in done]
        number, nbytes, seconds = None, 0, 0.0
        if missing:
            number = missing[0]
            data = read_part(payload, number, item.size, prog.part_size)
            started = self.timer()
            part = self.call(lambda: self.transport.put_part(
                item.key, str(prog.upload_id), number, data))
            seconds, nbytes = self.timer() - started, len(data)
            prog = prog.with_part(part)
            self.outbox.save_progress(item.id, prog.dump())
            if len(missing) > 1:
                return PartResult(False, number, nbytes, seconds, adopted=adopted)
        outcome = self.call(lambda: self.transport.complete_multipart(
            item.key, str(prog.upload_id), prog.parts, sha256_hex=item.sha256))
        return PartResult(True, number, nbytes, seconds, outcome.created, adopted)


def object_metadata(item: Item) -> dict[str, str]:
    """User metadata the producer asked for (``meta["object_metadata"]``), as strings."""
    raw = item.meta.get("object_metadata") or {}
    return {str(k): str(v) for k, v in dict(raw).items()}
