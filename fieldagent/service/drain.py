"""Drain and stop: before a planned power-down, send everything that may go now.

``drain(agent, seconds)`` takes every image waiting in the inboxes (the settle rule
included), analyses it, closes the open signal batch, uploads what the policy lets go
now, delivers pending alerts to the sinks, and saves state with a report that
``fieldagent status`` shows: whether it is safe to cut the power, and if not what is
left and why (an upload window that opens later, the link down, a failing sink).

Run it with ``fieldagent run --drain`` (start, drain, stop) or send ``SIGUSR1`` to a
running agent (``systemctl kill -s SIGUSR1 fieldagent``): it stops taking new work,
drains and exits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldagent.service.agent import Agent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainReport:
    """What a drain left behind; ``safe_to_power_off`` when nothing is."""

    at: str
    images_analysed: int
    images_waiting: int
    records_open: int
    uploads_left: int
    alerts_pending: int
    uploads_complete: bool

    @property
    def safe_to_power_off(self) -> bool:
        return (self.images_waiting == 0 and self.records_open == 0 and self.uploads_complete
                and self.alerts_pending == 0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "safe_to_power_off": self.safe_to_power_off}

    def text(self) -> str:
        if self.safe_to_power_off:
            return (f"drained: {self.images_analysed} images analysed, everything uploaded and "
                    "every alert delivered; it is safe to cut the power")
        left = []
        if self.images_waiting:
            left.append(f"{self.images_waiting} images still in the inboxes")
        if self.uploads_left:
            left.append(f"{self.uploads_left} objects not uploaded (an upload window or "
                        "budget that opens later, or the link is down: see fieldagent status)")
        if self.alerts_pending:
            left.append(f"{self.alerts_pending} alert deliveries pending (a sink is failing: "
                        "see fieldagent status)")
        return ("not fully drained: " + "; ".join(left) + ". Everything is kept on disk and "
                "goes at the next start; cutting the power now loses nothing, it only delays it")


def drain(agent: Agent, seconds: float) -> DrainReport:
    """Drain ``agent`` within about ``seconds`` of real time (module docstring)."""
    deadline = time.monotonic() + seconds
    analysed = _take_everything(agent, deadline)
    agent.housekeeping()
    agent.batcher.flush()
    complete = agent.uploader.drain(max(1.0, deadline - time.monotonic()))
    pending = _deliver(agent, deadline)
    now = agent.clock()
    report = DrainReport(
        at=now.isoformat(), images_analysed=analysed, images_waiting=_waiting(agent),
        records_open=agent.batcher.pending, uploads_left=_uploads_left(agent),
        alerts_pending=pending, uploads_complete=complete)
    agent.drained = report.to_dict()
    agent.save_state()
    log.info("%s", report.text())
    return report


def _take_everything(agent: Agent, deadline: float) -> int:
    """Poll and analyse until the inboxes are empty (or only hold files still being
    written) and the queue is empty, or the deadline passes."""
    analysed = 0
    settle = max((w.cfg.settle_seconds for w in agent.inboxes.values()), default=0.0)
    while time.monotonic() < deadline:
        agent.poll_sources()
        while agent.process_next() is not None:
            analysed += 1
        if _waiting(agent) == 0:
            break
        time.sleep(min(0.2, max(0.01, settle / 10)))
    return analysed


def _waiting(agent: Agent) -> int:
    return sum(w.waiting() for w in agent.inboxes.values()) + len(agent.queue)


def _uploads_left(agent: Agent) -> int:
    stats = agent.outbox.stats(now=agent.clock()).by_kind_state
    return sum(states.get(s, {}).get("items", 0)
               for kind, states in stats.items() if agent.policy.klass(kind).upload
               for s in ("ready", "leased"))


def _deliver(agent: Agent, deadline: float) -> int:
    """Deliver due alerts until none is pending or the deadline passes; pending count."""
    while True:
        agent.dispatcher.deliver_due(max_seconds=max(1.0, deadline - time.monotonic()))
        pending = sum(int(s.get("pending", 0)) for s in agent.dispatcher.status().values())
        if pending == 0 or time.monotonic() >= deadline:
            return pending
        time.sleep(0.5)
