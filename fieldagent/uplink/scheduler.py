"""What may be sent now, and whether the agent should collect less: the uploader's judgement.

* ``StepResult``, ``UplinkProblem``, ``UploaderSettings``: the uploader's value types;
  ``ProblemReporter`` hands problems to the agent's callback.
* ``LinkGuard``: whether the link may be used at all (breaker, backoff hold, pause).
* ``KindGate``: which kinds of items may be leased at ``now``. Kinds kept on the device
  (``upload: false``) never are; a kind outside its time window waits for the window; a kind
  the bandwidth rules refused for a while (daily budget spent, a long rate-cap wait) is held
  until then. Asking *before* leasing keeps a closed class from being leased, refused and
  released over and over, and lets a less urgent class go while a more urgent one waits.
* ``DegradeMonitor``: runs the ``DegradePlanner`` now and then and logs every change of level
  in one line that says what, why and what it means for the samplers.
* ``write_status`` / ``read_status`` / ``restore_status``: a small JSON snapshot (measured
  rate, degrade level, link state, daily-budget counts) for ``fieldagent outbox stats`` and
  for the next start (a restart keeps the day's budget count and the degrade level).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from fieldagent.offload.degrade import DegradePlanner, DegradeState
from fieldagent.outbox.model import Item
from fieldagent.policy.model import KINDS, Policy
from fieldagent.policy.units import format_size
from fieldagent.uplink.breaker import BreakerState, CircuitBreaker
from fieldagent.uplink.budget import Bandwidth
from fieldagent.uplink.retry import RetryPolicy

T = TypeVar("T")
log = logging.getLogger(__name__)
MIB = 1 << 20

Action = Literal["idle", "sent", "part", "dropped", "retry", "gave_up", "waiting",
                 "link_down", "paused"]
BUSY = frozenset({"sent", "part", "dropped", "retry", "gave_up"})
"""Actions after which the next step should follow at once."""


@dataclass(frozen=True)
class StepResult:
    """What one step did. ``wait_s``: for idle/waiting/link_down/paused, how long until
    something could change (the loop sleeps at most that). ``created`` is False when the
    object was already there (a retry after a lost answer)."""

    action: Action
    wait_s: float = 0.0
    item_id: int | None = None
    kind: str | None = None
    key: str | None = None
    nbytes: int = 0
    part: int | None = None
    created: bool | None = None
    detail: str = ""


@dataclass(frozen=True)
class UplinkProblem:
    """An alert-worthy event for the agent (``on_problem``): a refused or corrupt item
    (given up), or a site setup the server refuses (uploads paused)."""

    kind: Literal["rejected", "corrupt", "misconfigured", "unsendable", "restarts"]
    message: str
    at: datetime
    item_kind: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class UploaderSettings:
    """Tuning; the defaults suit a few-Mbit/s link. ``pace_max_s``: rate-cap waits up to
    this are slept in the step, longer ones hold the kind. ``exists_check_bytes``: bodies
    from this size get a HEAD before being sent again (a server may read a whole body
    before answering 412). ``hold_link_attempts``: after a link failure all sending waits
    for the failed item's retry (strict priority) until it has failed this often.
    ``status_path``: JSON snapshot for ``outbox stats``."""

    part_size: int = 8 * MIB
    multipart_threshold: int = 8 * MIB
    lease_seconds: float = 900.0
    small_put_retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=3, max_elapsed=60, base=1, cap=8))
    retry_base_s: float = 30.0
    retry_cap_s: float = 900.0
    pace_max_s: float = 2.0
    pause_s: float = 900.0
    idle_s: float = 1.0
    max_restarts: int = 3
    hold_link_attempts: int = 5
    exists_check_bytes: int = MIB
    assess_every_s: float = 60.0
    status_path: Path | None = None


@dataclass(frozen=True)
class Hold:
    """A kind held back until ``until`` for ``reason`` (shown by status and logs)."""

    until: datetime
    reason: str


class KindGate:
    """Which kinds may be leased now (module docstring)."""

    def __init__(self, policy: Policy, bandwidth: Bandwidth) -> None:
        self._bandwidth = bandwidth
        self._uploading = [k for k in KINDS if policy.klass(k).upload]
        self.holds: dict[str, Hold] = {}

    def open_kinds(self, now: datetime) -> list[str]:
        """Uploading kinds whose window is open and that no hold keeps back."""
        self.holds = {k: h for k, h in self.holds.items() if h.until > now}
        return [
            k for k in self._uploading
            if k not in self.holds and self._bandwidth.windows(k).is_open(now)
        ]

    def hold(self, kind: str, until: datetime, reason: str) -> None:
        self.holds[kind] = Hold(until, reason)

    def snapshot(self) -> dict[str, Any]:
        return {k: {"until": h.until, "reason": h.reason} for k, h in self.holds.items()}

    def next_change(self, now: datetime) -> datetime | None:
        """The earliest moment a kind that is closed now may open (None: nothing closed)."""
        times = [h.until for h in self.holds.values()]
        times += [
            self._bandwidth.windows(k).next_open(now) for k in self._uploading
            if not self._bandwidth.windows(k).is_open(now)
        ]
        return min(times, default=None)


class ProblemReporter:
    """Hands alert-worthy events to the agent's callback; a failing callback is logged,
    never allowed to stop the uploader. ``last`` is shown in the status."""

    def __init__(self, callback: Callable[[UplinkProblem], None] | None) -> None:
        self._callback = callback
        self.last: UplinkProblem | None = None

    def report(self, kind: Any, message: str, now: datetime, item: Item | None) -> None:
        problem = UplinkProblem(kind, message, now, item.kind if item else None,
                                item.key if item else None)
        self.last = problem
        if self._callback is None:
            return
        try:
            self._callback(problem)
        except Exception:
            log.exception("the on_problem callback failed for: %s", message)

    def snapshot(self) -> dict[str, Any] | None:
        last = self.last
        return None if last is None else {"kind": last.kind, "message": last.message,
                                          "at": last.at}


class LinkGuard:
    """Whether the link may be used now: the circuit breaker, the backoff hold after a
    failed transfer (``hold_until``) and the pause after a refused setup
    (``paused_until``). A breaker that closes again restarts the bandwidth ramp, so a
    waking backlog does not flood the link."""

    def __init__(
        self, breaker: CircuitBreaker, bandwidth: Bandwidth,
        clock: Callable[[], datetime], name: str,
    ) -> None:
        self.breaker, self._bandwidth, self._clock, self.name = breaker, bandwidth, clock, name
        self.hold_until: datetime | None = None
        self.paused_until: datetime | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """One transport request through the breaker."""
        before = self.breaker.status()
        try:
            return self.breaker.call(fn)
        finally:
            if before.state is not BreakerState.CLOSED and (
                self.breaker.status().state is BreakerState.CLOSED
            ):
                self._bandwidth.reconnected(self._clock())
                log.info("uplink %s is back (down since %s); ramping up gently",
                         self.name, before.down_since)

    def snapshot(self) -> dict[str, Any]:
        link = self.breaker.status()
        return {"link": {"state": link.state.value, "down_since": link.down_since,
                         "last_error": link.last_error}, "paused_until": self.paused_until}

    def blocked(self, now: datetime) -> StepResult | None:
        """Why nothing may be sent now, or None."""
        if self.paused_until is not None and now < self.paused_until:
            return StepResult("paused", wait_s=(self.paused_until - now).total_seconds())
        if self.hold_until is not None and now < self.hold_until:
            wait = (self.hold_until - now).total_seconds()
            return StepResult("link_down", wait_s=wait, detail="backing off after a failure")
        status = self.breaker.status()
        if status.state is BreakerState.OPEN and status.retry_at and status.retry_at > now:
            return StepResult("link_down", wait_s=(status.retry_at - now).total_seconds(),
                              detail=f"link down since {status.down_since}: "
                              f"{status.last_error}")
        return None


_STEP_TEXT = {
    "crops_only": "crops only",
    "thumbnails": "thumbnails only",
    "essential_only": "essential images only (alert evidence, daily references)",
}


def describe_steps(policy: Policy, level: int) -> str:
    """The active ladder steps in words, e.g. "sampling halved, crops only"."""
    words = []
    for step in policy.degrade.ladder[:level]:
        factor = getattr(step, "factor", None)
        quality = getattr(step, "quality", None)
        if factor is not None:
            words.append("sampling halved" if factor == 0.5 else f"sampling x{factor:g}")
        elif quality is not None:
            words.append(f"JPEG quality {quality}")
        else:
            words.append(_STEP_TEXT.get(step.step, step.step))
    return ", ".join(words) or "full sampling"


def duration_text(seconds: float | None) -> str:
    """Seconds as a person reads a drain time: "45 s", "20 min", "3.5 h", "31 h"."""
    if seconds is None or math.isinf(seconds):
        return "forever"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 10 else f"{hours:.0f} h"


def rate_text(rate: float | None) -> str:
    return "an unknown rate" if rate is None else f"{rate * 8 / 1e6:.2g} Mbit/s"


class DegradeMonitor:
    """Assesses the backlog every ``every`` and keeps the ``DegradeState``."""

    def __init__(self, policy: Policy, every: timedelta = timedelta(minutes=1)) -> None:
        self.policy, self.every = policy, every
        self.planner = DegradePlanner(policy)
        self.state = DegradeState()
        self._last: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self._last is None or now - self._last >= self.every or now < self._last

    def assess(self, now: datetime, backlog: Mapping[str, int], rate: float | None) -> bool:
        """Update the state; log and return True when the level changed."""
        self._last = now
        old, new = self.state, self.planner.update(now, backlog, rate, self.state)
        self.state = new
        if new.level == old.level:
            return False
        log.warning("%s", self.change_line(old, new, backlog, rate))
        return True

    def change_line(
        self, old: DegradeState, new: DegradeState, backlog: Mapping[str, int],
        rate: float | None,
    ) -> str:
        """One line that says what changed, why, and what the samplers now do."""
        biggest = max(backlog, key=lambda k: backlog[k], default="image")
        total = sum(backlog.values())
        eta = duration_text(new.drain_eta_s)
        horizon = duration_text(self.policy.link.horizon)
        steps = describe_steps(self.policy, new.level)
        if new.level > old.level:
            return (f"uplink: backlog of {format_size(total)} (mostly {biggest}s) would take "
                    f"{eta} at {rate_text(rate)} > {horizon} horizon: {steps} "
                    f"(degrade level {new.level}/{len(self.policy.degrade.ladder)}); "
                    "the image samplers keep less until the backlog drains")
        return (f"uplink: backlog of {format_size(total)} drains in {eta} at "
                f"{rate_text(rate)}, well within the {horizon} horizon: back to {steps} "
                f"(degrade level {new.level}/{len(self.policy.degrade.ladder)})")


def degrade_dict(state: DegradeState, policy: Policy) -> dict[str, Any]:
    """The degrade state as JSON-friendly data, with the steps in words."""
    d = asdict(state)
    for key in ("changed_at", "calm_since"):
        d[key] = d[key].isoformat() if d[key] else None
    d["steps_active"] = list(state.steps_active)
    d["summary"] = describe_steps(policy, state.level)
    return d


def degrade_from_dict(data: Mapping[str, Any]) -> DegradeState:
    """The state saved by ``degrade_dict`` (missing fields take their defaults)."""
    def when(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value) if value else None

    return DegradeState(
        level=int(data.get("level", 0)), steps_active=tuple(data.get("steps_active", ())),
        reason=str(data.get("reason", "restored after a restart")),
        drain_eta_s=data.get("drain_eta_s"), changed_at=when("changed_at"),
        calm_since=when("calm_since"),
    )


def restore_status(path: Path, bandwidth: Bandwidth, monitor: DegradeMonitor) -> None:
    """Continue the daily-budget count and the degrade level of the previous run, so a
    restart neither hands out a fresh budget nor jumps back to full sampling."""
    saved = read_status(path)
    if not saved:
        return
    try:
        bandwidth.restore(saved.get("bandwidth") or {})
        monitor.state = degrade_from_dict(saved.get("degrade") or {})
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("uplink status %s could not be restored (%s); starting fresh", path, exc)


def write_status(path: Path, status: Mapping[str, Any]) -> None:
    """Replace the status file atomically (no fsync: it is a snapshot, not a record)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(status, indent=1, sort_keys=True, default=str))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write the uplink status file %s: %s (status and the daily "
                    "budget count after a restart will be stale)", path, exc)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last snapshot, or None if there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
