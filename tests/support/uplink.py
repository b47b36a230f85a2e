"""What every uploader test starts from: an outbox, a policy, a simulated clock, payloads.

``UplinkRig`` is one site's sending side with nothing faked but time: a real
``SqliteOutbox`` in ``<root>/outbox`` and a ``SimClock`` that the uploader's injected
``sleep`` advances, so backoffs, pacing and windows cost no real time while the bytes really
travel. The transport is the test's choice and is passed per uploader: the ``make_s3``
fixture (real SeaweedFS over HTTP, optionally behind ``PoorLink``), ``FaultyS3``, or a
local folder (``rig.folder()``).

The ``make_rig`` fixture (``tests/conftest.py``) builds rigs and closes their outboxes after
the test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.policy import Policy
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.s3 import S3Transport
from fieldagent.uplink.transport import Transport
from fieldagent.uplink.uploader import UplinkProblem, Uploader, UploaderSettings
from fieldcontract.keys import object_key
from tests.support.clock import T0, SimClock

SITE = "gh-1"
MIB = 1 << 20
PRIORITY = {"alert": 0, "signals": 1, "heartbeat": 2, "model_report": 3, "image": 4}
# SeaweedFS refuses parts under 5 MiB: anything larger goes up in 5 MiB parts.
SMALL_PARTS = UploaderSettings(part_size=5 * MIB, multipart_threshold=5 * MIB)

S3Factory = Callable[..., S3Transport]
"""The ``make_s3`` fixture (``tests/uplink/conftest.py``): an S3Transport on a fresh bucket."""


def open_policy(**link: Any) -> Policy:
    """The default policy with images allowed at any hour (no windows), for tests about
    order and outcomes rather than the night window; ``link`` sets link rules
    (``total_max_bytes="1GB"``, ``rate="100KB/s"`` ...)."""
    return validate_policy({"link": link, "classes": {"image": {"windows": []}}}, "test")


def blob(seed: str, size: int) -> bytes:
    """``size`` bytes that depend only on ``seed``: distinct payloads, repeatable keys."""
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


def new_item(kind: str, seed: str, size: int, when: datetime, *,
             suffix: str = ".bin") -> NewItem:
    """An outbox item of ``kind`` (priority from ``PRIORITY``) under its content-derived key."""
    body = blob(seed, size)
    key = object_key(kind.replace("_", "-"), SITE, when, hashlib.sha256(body).hexdigest(),
                     suffix=suffix)
    return NewItem(kind, key, PRIORITY[kind], when, data=body)


@dataclass
class UplinkRig:
    """An outbox on disk, its policy and a simulated clock (module docstring)."""

    root: Path
    policy: Policy
    clock: SimClock
    inline_max: int | None = None  # None: the outbox's own default
    problems: list[UplinkProblem] = field(default_factory=list)
    box: SqliteOutbox = field(init=False)

    def __post_init__(self) -> None:
        self.box = self._open()

    def _open(self) -> SqliteOutbox:
        folder, limits = self.root / "outbox", self.policy.outbox_limits()
        if self.inline_max is None:
            return SqliteOutbox(folder, limits=limits, clock=self.clock)
        return SqliteOutbox(folder, limits=limits, clock=self.clock, inline_max=self.inline_max)

    def uploader(self, transport: Transport, **options: Any) -> Uploader:
        """An uploader on this outbox, policy and clock, reporting into ``problems``;
        ``options`` are the Uploader's own (``settings``, ``breaker``, ``estimator`` ...)."""
        return Uploader(self.box, transport, self.policy, site=SITE, clock=self.clock,
                        sleep=self.clock.sleep, on_problem=self.problems.append, **options)

    def folder(self, name: str = "cloud") -> LocalTransport:
        """A local-folder target under the rig's root (created: the transport never does)."""
        (self.root / name).mkdir(exist_ok=True)
        return LocalTransport(self.root / name)

    def restart(self) -> SqliteOutbox:
        """Close the outbox and open it again on the same files, as a new process would."""
        self.box.close()
        self.box = self._open()
        return self.box

    def close(self) -> None:
        self.box.close()


MakeRig = Callable[..., UplinkRig]


def rig_factory(root: Path, made: list[UplinkRig]) -> MakeRig:
    """``make_rig(policy, start=T0, inline_max=None)``: a rig under ``root``, appended to
    ``made`` so that the fixture can close it after the test."""

    def make(policy: Policy, *, start: datetime = T0,
             inline_max: int | None = None) -> UplinkRig:
        rig = UplinkRig(root, policy, SimClock(start), inline_max=inline_max)
        made.append(rig)
        return rig

    return make
