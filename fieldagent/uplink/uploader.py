"""The uploader: drains the outbox to the transport, most urgent first, one unit at a time.

``Uploader.step(now)`` does one unit of work: lease the most urgent item that may go now,
send it whole (small items) or send ONE part of it (large items), then ack, save the
progress and release, or nack. Nothing is held between steps, so a multipart image is
released after every part and an alert enqueued meanwhile is leased by the very next step:
it never waits longer than one part. ``run(stop)`` loops over steps in a thread;
``run_until_idle()`` drains what it can (tests, a one-shot CLI).

What happens on each answer (the error tree in ``errors``):

* delivered, or "already there" (create-only 412): ``ack``. Nothing is ever duplicated or
  overwritten: keys are content-derived and every write is create-only.
* ``UplinkUnavailable`` (link down, timeout, 5xx, SlowDown, damaged on the wire): ``nack``
  with exponential backoff and full jitter (``next_retry_at``); small puts are first retried
  a few times in the call (``retrying``, tenacity). Sending then waits for that retry, so
  nothing less urgent overtakes the failed item (strict priority), unless it has failed
  ``hold_link_attempts`` times and may be the problem itself. The circuit breaker stops all sending
  while the link is known to be down and lets one probe through now and then; when it
  closes again, the bandwidth ramp restarts so the backlog does not flood the link.
* ``UplinkRejected`` / ``PayloadCorrupt`` / a corrupt spool file: the item is given up
  (dead letter) and ``on_problem`` is told; the queue goes on.
* ``UplinkMisconfigured`` (credentials, bucket, permissions): nothing is dropped; uploads
  pause for ``pause_s`` and ``on_problem`` is told, since every item would fail alike.
* ``UploadGone``: the multipart upload starts over (at most ``max_restarts`` times).

Bandwidth: ``Bandwidth.permit`` is asked before every transfer; short rate-cap waits are
slept through the injected ``sleep`` (pacing), long ones (window, daily budget) hold that
kind in the ``KindGate`` while other kinds go. Every transfer feeds the
``ThroughputEstimator``, and the ``DegradeMonitor`` turns backlog and rate into the
``degrade_state`` the offloader reads (its ``DegradeSource``, ``fieldagent.offload.degrade``).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, BinaryIO, Literal, TypeVar
from zoneinfo import ZoneInfo

from fieldagent.offload.degrade import DegradeState
from fieldagent.outbox.base import Outbox
from fieldagent.outbox.model import Item, ItemGone, OutboxCorrupt
from fieldagent.policy.model import KINDS, Policy
from fieldagent.uplink.breaker import CircuitBreaker, utc_now
from fieldagent.uplink.budget import Bandwidth, ThroughputEstimator
from fieldagent.uplink.errors import (
    CircuitOpen,
    PayloadCorrupt,
    UplinkMisconfigured,
    UplinkRejected,
    UplinkUnavailable,
    UploadGone,
)
from fieldagent.uplink.multipart import MultipartSender, Progress, object_metadata
from fieldagent.uplink.retry import next_retry_at, retrying
from fieldagent.uplink.scheduler import (
    BUSY,
    Action,
    DegradeMonitor,
    KindGate,
    LinkGuard,
    ProblemReporter,
    StepResult,
    UplinkProblem,
    UploaderSettings,
    degrade_dict,
    restore_status,
    write_status,
)
from fieldagent.uplink.transport import Transport

T = TypeVar("T")
log = logging.getLogger(__name__)
__all__ = ["StepResult", "UplinkProblem", "Uploader", "UploaderSettings"]


class Uploader:
    """Sends the outbox's items through one transport (module docstring).

    Parameters
    ----------
    outbox, transport, policy
        What to send, where to, and by which rules (priorities, windows, caps, ladder).
    site, tz
        The site id (logs, status) and its IANA time zone (windows, the budget's midnight).
    clock, sleep
        The only sources of time: tests pass a fake clock whose ``sleep`` advances it.
    breaker, bandwidth, estimator
        Shared link state; built from the policy when not given.
    on_problem
        Called with an ``UplinkProblem`` for alert-worthy events; its errors are logged.
    settings
        Part size, retries, pacing, pause, status file (``UploaderSettings``).
    timer, rng
        Monotonic seconds for measuring transfers; the jitter's randomness.
    """

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        policy: Policy,
        *,
        site: str,
        tz: ZoneInfo | str = "UTC",
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        breaker: CircuitBreaker | None = None,
        bandwidth: Bandwidth | None = None,
        estimator: ThroughputEstimator | None = None,
        on_problem: Callable[[UplinkProblem], None] | None = None,
        settings: UploaderSettings | None = None,
        timer: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.site, self.policy = site, policy
        self._outbox, self._transport = outbox, transport
        self._clock, self._sleep, self._timer = clock, sleep, timer
        self.settings = s = settings or UploaderSettings()
        self.breaker = breaker or CircuitBreaker(transport.name, clock=clock)
        self.bandwidth = bandwidth or Bandwidth(policy, tz)
        self.estimator = estimator or ThroughputEstimator()
        self.problems = ProblemReporter(on_problem)
        self._rng = rng or random.Random()
        self._gate = KindGate(policy, self.bandwidth)
        self._monitor = DegradeMonitor(policy, timedelta(seconds=s.assess_every_s))
        self.link = LinkGuard(self.breaker, self.bandwidth, clock, transport.name)
        self._call = self.link.call
        self._mp = MultipartSender(outbox, transport, self._call, timer, s.part_size)
        self._retry_times: list[datetime] = []
        self._in_flight: Item | None = None
        if s.status_path is not None:
            restore_status(s.status_path, self.bandwidth, self._monitor)
        self.bandwidth.reconnected(clock())  # the ramp starts at start-up too

    # -- public ------------------------------------------------------------------------
    @property
    def degrade_state(self) -> DegradeState:
        """Where on the degradation ladder the agent stands. The uploader is the offloader's
        ``DegradeSource``: it keeps the level, the offloader decides what it means."""
        return self._monitor.state

    def step(self, now: datetime | None = None) -> StepResult:
        """One unit of work (module docstring); never raises for an item's sake."""
        now = now or self._clock()
        self._maybe_assess(now)
        blocked = self.link.blocked(now)
        if blocked is not None:
            return blocked
        kinds = self._gate.open_kinds(now)
        items = self._outbox.lease(
            now=now, kinds=kinds, limit=1, lease_seconds=self.settings.lease_seconds
        ) if kinds else []
        if not items:
            return StepResult("idle", wait_s=self._idle_wait(now))
        self._note_preemption(items[0])
        return self._handle(items[0], now)

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; an error in a step is logged, never fatal."""
        delay = 0.0
        while not stop.wait(delay):
            try:
                result = self.step(self._clock())
            except Exception:
                log.exception("uplink step failed unexpectedly; the uploader carries on")
                result = StepResult("idle", wait_s=self.settings.idle_s)
            delay = 0.0 if result.action in BUSY else min(result.wait_s, self.settings.idle_s)

    def run_until_idle(
        self, *, max_steps: int = 100_000, until: datetime | None = None
    ) -> list[StepResult]:
        """Step until nothing uploadable is left (waiting through the injected ``sleep``
        for retries, windows and budgets), ``until`` passes or ``max_steps`` is reached."""
        results: list[StepResult] = []
        for _ in range(max_steps):
            now = self._clock()
            if until is not None and now >= until:
                break
            result = self.step(now)
            results.append(result)
            if result.action in BUSY:
                continue
            if result.action == "idle" and not self._backlog_left(now):
                break
            self._sleep(max(result.wait_s, 0.001))
        return results

    # -- one item ----------------------------------------------------------------------
    def _handle(self, item: Item, now: datetime) -> StepResult:
        """Send, and map every outcome to ack/nack/release/give_up (module docstring)."""
        try:
            return self._send(item, now)
        except CircuitOpen as exc:
            self._outbox.release(item.id)
            wait = max(0.0, (exc.retry_at - now).total_seconds())
            return _result("link_down", item, wait_s=wait, detail=str(exc))
        except UploadGone as exc:
            return self._restart(item, now, exc)
        except UplinkMisconfigured as exc:
            self._outbox.release(item.id)
            return self._pause(item, now, exc)
        except PayloadCorrupt as exc:
            return self._give_up(item, now, exc, "corrupt")
        except UplinkRejected as exc:
            return self._give_up(item, now, exc, "rejected")
        except UplinkUnavailable as exc:
            return self._retry_later(item, now, exc, link=True)
        except OutboxCorrupt as exc:
            self._mp.abort(item)
            self.problems.report("corrupt", str(exc), now, item)
            return _result("dropped", item, detail=str(exc))
        except ItemGone as exc:
            return _result("dropped", item, detail=str(exc))
        except Exception as exc:
            log.exception("uplink: unexpected error sending %s %s; retrying it later",
                          item.kind, item.key)
            return self._retry_later(item, now, exc, link=False)

    def _send(self, item: Item, now: datetime) -> StepResult:
        multipart = item.size > self.settings.multipart_threshold
        nbytes = self._mp.next_bytes(item) if multipart else item.size
        refused = self._permit(item, nbytes, now)
        if refused is not None:
            return refused
        with self._outbox.open_payload(item) as payload:
            if multipart:
                return self._send_part(item, payload)
            return self._put(item, payload.read())

    def _permit(self, item: Item, nbytes: int, now: datetime) -> StepResult | None:
        """Ask the bandwidth rules; sleep short rate waits, hold the kind for long ones."""
        if nbytes == 0:
            return None
        for _ in range(4):
            decision = self.bandwidth.permit(item.kind, nbytes, now)
            if decision.allowed:
                return None
            if math.isinf(decision.wait_s):
                return self._give_up(item, now, UplinkRejected(decision.reason), "unsendable")
            if decision.wait_s > self.settings.pace_max_s:
                break
            self._sleep(decision.wait_s)
            now = self._clock()
        self._outbox.release(item.id)
        self._gate.hold(item.kind, now + timedelta(seconds=decision.wait_s), decision.reason)
        log.debug("uplink: %s held for %.0f s: %s", item.kind, decision.wait_s, decision.reason)
        return _result("waiting", item, wait_s=decision.wait_s, detail=decision.reason)

    def _put(self, item: Item, body: bytes) -> StepResult:
        """One small object, retried a few times in the call; HEAD first if a large body
        may already have arrived (a lost answer, or a crash mid-put)."""
        large = item.size >= self.settings.exists_check_bytes
        tried = Progress.load(item.progress).put_started or item.attempts > 0
        if large and tried and self._call(lambda: self._transport.exists(item.key)):
            return self._delivered(item, created=False)
        if large and not tried:
            self._outbox.save_progress(item.id, Progress(put_started=True).dump())
        started = self._timer()
        outcome = retrying(
            lambda: self._call(lambda: self._transport.put(
                item.key, body, sha256_hex=item.sha256, content_type=item.content_type,
                metadata=object_metadata(item))),
            policy=self.settings.small_put_retry, sleep=self._sleep,
            clock=lambda: self._clock().timestamp(), rng=self._rng.random,
        )
        self.estimator.observe(len(body), self._timer() - started)
        return self._delivered(item, created=outcome.created, nbytes=len(body))

    def _send_part(self, item: Item, payload: BinaryIO) -> StepResult:
        try:
            res = self._mp.step(item, payload)
        except UplinkUnavailable:
            self._mp.forget(item)
            raise
        self.estimator.observe(res.nbytes, res.seconds)
        if res.completed:
            self._in_flight = None
            return self._delivered(item, created=bool(res.created), nbytes=res.nbytes,
                                   part=res.number)
        self._outbox.release(item.id)
        self._in_flight = item
        log.debug("uplink: %s part %s sent (%d bytes, %d adopted from the server)",
                  item.key, res.number, res.nbytes, res.adopted)
        return _result("part", item, nbytes=res.nbytes, part=res.number)

    def _delivered(self, item: Item, *, created: bool, nbytes: int = 0,
                   part: int | None = None) -> StepResult:
        self._outbox.ack(item.id, now=self._clock())
        how = "uploaded" if created else "already there (an earlier attempt got through)"
        # one line per object is noise at a busy site (status and heartbeats count them);
        # an object an earlier attempt already delivered is worth seeing.
        log.log(logging.DEBUG if created else logging.INFO, "uplink: %s %s %s (%d bytes)",
                item.kind, item.key, how, item.size)
        return _result("sent", item, nbytes=nbytes, part=part, created=created)

    # -- failures ----------------------------------------------------------------------
    def _retry_later(self, item: Item, now: datetime, exc: Exception, *, link: bool) -> StepResult:
        """Nack with backoff. A link failure also holds *all* sending until then, so less
        urgent items cannot overtake the failed one (strict priority), unless the item has
        failed so often that it may be the problem itself (then it must not block others)."""
        s = self.settings
        retry_at = next_retry_at(item.attempts + 1, now, s.retry_base_s, s.retry_cap_s,
                                 self._rng.random)
        self._outbox.nack(item.id, now=now, retry_at=retry_at, error=str(exc)[:500])
        self._retry_times.append(retry_at)
        if link and item.attempts + 1 < s.hold_link_attempts:
            self.link.hold_until = retry_at
        log.warning("uplink: sending %s %s failed (attempt %d), will retry at %s: %s",
                    item.kind, item.key, item.attempts + 1, retry_at.isoformat(), exc)
        return _result("retry", item, detail=str(exc))

    def _restart(self, item: Item, now: datetime, exc: UploadGone) -> StepResult:
        restarts = self._mp.restart(item)
        if restarts > self.settings.max_restarts:
            return self._give_up(item, now, exc, "restarts")
        log.warning("uplink: multipart upload of %s is gone on the server (%s); starting it "
                    "over (restart %d of at most %d)", item.key, exc, restarts,
                    self.settings.max_restarts)
        self._outbox.release(item.id)
        return _result("retry", item, detail=str(exc))

    def _give_up(self, item: Item, now: datetime, exc: Exception,
                 why: Literal["rejected", "corrupt", "unsendable", "restarts"]) -> StepResult:
        self._mp.abort(item)
        code = getattr(exc, "code", None) or type(exc).__name__
        self._outbox.give_up(item.id, now=now, error=f"{why} ({code}): {exc}"[:500])
        self.problems.report(why, f"gave up on {item.kind} {item.key} ({code}): {exc}", now, item)
        return _result("gave_up", item, detail=str(exc))

    def _pause(self, item: Item, now: datetime, exc: UplinkMisconfigured) -> StepResult:
        until = self.link.paused_until = now + timedelta(seconds=self.settings.pause_s)
        log.error("uplink %s refuses this site's setup: %s. Uploads are paused until %s "
                  "(nothing is dropped); fix the uplink target or credentials in the site "
                  "config; the uploader tries again by itself.", self._transport.name, exc,
                  until.isoformat())
        self.problems.report("misconfigured", str(exc), now, item)
        return _result("paused", item, wait_s=self.settings.pause_s, detail=str(exc))

    # -- link, loop and status ---------------------------------------------------------
    def _idle_wait(self, now: datetime) -> float:
        self._retry_times = [t for t in self._retry_times if t > now]
        times = [*self._retry_times]
        if (change := self._gate.next_change(now)) is not None:
            times.append(change)
        soonest = min(((t - now).total_seconds() for t in times), default=math.inf)
        return max(0.0, min(soonest, max(self.settings.idle_s, self.settings.retry_base_s)))

    def drain(self, seconds: float) -> bool:
        """Upload what the policy lets go now, for at most ``seconds`` of real time.

        Waits through short retries (backoff, a brief outage) but not for an upload
        window or a budget that opens later. Returns True when nothing uploadable is left.
        """
        deadline = time.monotonic() + seconds
        while True:
            now = self._clock()
            result = self.step(now)
            if result.action in BUSY:
                continue
            if not self._backlog_left(self._clock()):
                return True
            left = deadline - time.monotonic()
            if result.wait_s > left or left <= 0:
                return False
            self._sleep(max(result.wait_s, 0.01))

    def _backlog_left(self, now: datetime) -> bool:
        table = self._outbox.stats(now=now).by_kind_state
        return any(
            table.get(k, {}).get(state, {}).get("items", 0) > 0
            for k in KINDS if self.policy.klass(k).upload for state in ("ready", "leased")
        )

    def _note_preemption(self, item: Item) -> None:
        busy = self._in_flight
        if busy is not None and item.id != busy.id and item.priority < busy.priority:
            log.info("uplink: %s %s goes before %s, whose upload resumes after it (finished "
                     "parts are saved)", item.kind, item.key, busy.key)
            self._in_flight = None

    def _maybe_assess(self, now: datetime) -> None:
        if not self._monitor.due(now):
            return
        try:
            self._outbox.expire(now=now)
            table = self._outbox.stats(now=now).by_kind_state
            backlog = {k: table[k]["ready"]["bytes"] + table[k]["leased"]["bytes"]
                       for k in KINDS if k in table}
            self._monitor.assess(now, backlog, self.estimator.rate())
        except Exception:
            log.exception("uplink: could not assess the backlog; the degrade level is held")
        if self.settings.status_path is not None:
            write_status(self.settings.status_path, self.status(now))

    def status(self, now: datetime) -> dict[str, Any]:
        """A JSON-friendly snapshot for ``outbox stats`` and the heartbeat."""
        return {
            "site": self.site, "target": self._transport.name, "updated_at": now.isoformat(),
            "rate_bytes_per_s": self.estimator.rate(), "rate_samples": self.estimator.samples,
            **self.link.snapshot(), "holds": self._gate.snapshot(),
            "degrade": degrade_dict(self._monitor.state, self.policy),
            "last_problem": self.problems.snapshot(), "bandwidth": self.bandwidth.state(),
        }


def _result(action: Action, item: Item, **kw: Any) -> StepResult:
    return StepResult(action, item_id=item.id, kind=item.kind, key=item.key, **kw)
