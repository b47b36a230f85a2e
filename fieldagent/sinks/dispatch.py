"""``AlertDispatcher``: gets each alert to every sink that wants it, on the LAN, at most once.

``submit`` records one delivery per matching sink in the SQLite store in one transaction
(idempotent on alert key + state + sink), held until the end of quiet hours when the alert
is not loud enough to break them. ``deliver_due`` then runs one worker thread per sink:

* each sink sends its due deliveries oldest first and commits "delivered" right after
  each success, so a restart never resends what a receiver accepted (except the one that
  was in flight at a crash; webhooks carry an ``Idempotency-Key`` for it, mails a fixed
  ``Message-ID``);
* a temporary failure stops that sink for the round and backs it off (exponential,
  jittered, at least the receiver's ``Retry-After`` up to an hour), so its queue keeps
  its order and a down receiver is not hammered; other sinks go on in their own threads,
  so a slow or failing sink never delays a healthy one, and ``timeout_seconds`` bounds
  how long one attempt waits;
* a permanent refusal fails that delivery with the receiver's reason and what to fix;
* deliveries due for longer than ``retry_max_minutes`` are given up when their sink fails
  again, with the last error.

``run(stop)`` is the service loop: it delivers at once when something is submitted, and
otherwise every ``idle_seconds`` (for retries and the end of quiet hours).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fieldagent.alerts.rules import Alert
from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError
from fieldagent.sinks.config import DeliveryConfig, EmailSink, WebhookSink, at_least
from fieldagent.sinks.errors import SinkRejected, SinkUnavailable
from fieldagent.sinks.mail import EmailSender
from fieldagent.sinks.quiet import quiet_until
from fieldagent.sinks.store import Delivery, DeliveryStore
from fieldagent.sinks.webhook import WebhookSender

log = logging.getLogger(__name__)

RETRY_AFTER_CAP_SECONDS = 3600.0  # a receiver asking for longer is asked again after an hour
PRUNE_EVERY = timedelta(hours=1)


class Sender(Protocol):
    """One sink's transport: one attempt per call, library errors translated."""

    def send(self, delivery: Delivery, now: datetime) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SinkRound:
    """What one sink did in one ``deliver_due`` call."""

    sink: str
    delivered: int = 0
    rejected: int = 0
    gave_up: int = 0
    retry_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """The outcome of one ``deliver_due`` call; ``unfinished`` sinks were still sending."""

    rounds: tuple[SinkRound, ...]
    unfinished: tuple[str, ...]

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.rounds)

    @property
    def failed(self) -> int:
        return sum(r.rejected + r.gave_up for r in self.rounds)

    def sink(self, sink_id: str) -> SinkRound | None:
        return next((r for r in self.rounds if r.sink == sink_id), None)


def backoff_seconds(
    failures: int, *, low: float, high: float, rng: Callable[[], float] = random.random
) -> float:
    """Wait after ``failures`` consecutive failures: ``low * 2^(n-1)`` capped at ``high``,
    jittered down by up to half (so sites that lost the same LAN server spread out), never
    below ``low``."""
    ceiling = min(high, low * 2.0 ** min(failures - 1, 40))
    return max(low, ceiling * (0.5 + 0.5 * rng()))


class AlertDispatcher:
    """Durable, per-sink-independent alert delivery (see the module docstring).

    Parameters
    ----------
    config : the sinks, quiet hours and retry bounds.
    db_path : the SQLite file (created if absent); one process owns it.
    secrets : credentials named by the sinks' ``secret``; missing ones fail here, at start.
    tz : the site's IANA time zone, for quiet hours and the times in messages.
    clock : returns the current time (aware); decides what is due, held and given up.
    rng : jitter source in [0, 1); inject a constant for exact backoff in tests.
    """

    def __init__(
        self,
        config: DeliveryConfig,
        db_path: Path,
        secrets: SecretStore,
        tz: str,
        clock: Callable[[], datetime],
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._config, self._clock, self._rng = config, clock, rng
        self._zone = _zone(tz)
        self._windows = config.windows()
        self._sinks: dict[str, WebhookSink | EmailSink] = {s.id: s for s in config.sinks}
        self._senders: dict[str, Sender] = {s.id: _sender(s, secrets, self._zone)
                                            for s in config.sinks}
        self._store = DeliveryStore(Path(db_path), clock())
        dropped = self._store.fail_unknown_sinks(self._sinks.keys(), clock())
        if dropped:
            log.warning("%d pending alert deliveries were for sinks no longer in the config; "
                        "marked failed", dropped)
        self._pool = ThreadPoolExecutor(max(1, len(self._sinks)), "alert-sink")
        self._running: dict[str, Future[SinkRound]] = {}
        self._round_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._next_prune = clock()

    def submit(self, alert: Alert, evidence: bytes | None = None,
               evidence_key: str | None = None) -> None:
        """Record the alert's deliveries durably; returns once they are on disk."""
        sinks = [s.id for s in self._sinks.values() if _wants(s, alert)]
        if not sinks:
            return
        now = self._clock()
        due = now
        if not at_least(alert.severity, self._config.quiet_hours_except):
            due = quiet_until(now, self._windows, self._zone) or now
        limit = self._config.max_evidence_kb * 1024
        if evidence is not None and len(evidence) > limit:
            log.warning("evidence for alert %s is %d KB, above max_evidence_kb=%d: the alert "
                        "is delivered without the picture (cloud copy: %s)", alert.key,
                        len(evidence) // 1024, self._config.max_evidence_kb, evidence_key)
            evidence = None
        added = self._store.add(alert, sinks, due, evidence, evidence_key, now)
        if added:
            held = f", held by quiet hours until {due.astimezone(self._zone):%H:%M}" if (
                due > now) else ""
            log.debug("alert %s (%s) queued for %s%s", alert.key, alert.state,
                     ", ".join(added), held)
            self._wake.set()

    def deliver_due(self, max_seconds: float | None = None) -> DeliveryReport:
        """Attempt every due delivery, each sink in its own thread.

        Returns when every sink is done, or after ``max_seconds`` (real time): a sink still
        sending then finishes its current attempt in the background (bounded by its
        timeout), commits it, and is listed in ``unfinished``; it is not started again
        until it is done.
        """
        with self._round_lock:
            if self._closed:
                raise RuntimeError("the alert dispatcher is closed")
            deadline = None if max_seconds is None else time.monotonic() + max_seconds
            busy = [s for s, f in self._running.items() if not f.done()]
            started = {s: self._pool.submit(self._sink_round, s, deadline)
                       for s in self._sinks if s not in busy}
            self._running.update(started)
            wait(started.values(), timeout=max_seconds)
            rounds = [_result(s, f) for s, f in started.items() if f.done()]
            unfinished = busy + [s for s, f in started.items() if not f.done()]
            self._maybe_prune()
        return DeliveryReport(tuple(rounds), tuple(sorted(unfinished)))

    def run(self, stop: threading.Event, idle_seconds: float = 5.0) -> None:
        """Deliver until ``stop`` is set: at once after a submit, else every ``idle_seconds``.

        ``close()`` wakes the loop, so ``stop.set(); dispatcher.close()`` ends it promptly.
        """
        while not stop.is_set() and not self._closed:
            self._wake.clear()
            try:
                self.deliver_due(max_seconds=idle_seconds)
            except Exception:
                if self._closed:
                    break
                log.exception("alert delivery round failed; trying again in %.0f s",
                              idle_seconds)
            self._wake.wait(idle_seconds)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per sink: pending (and held), delivered, failed, last error and success, backoff."""
        now = self._clock()
        counts = self._store.counts(now)
        out: dict[str, dict[str, Any]] = {}
        for sid, sink in self._sinks.items():
            c = counts.get(sid, {})
            h = self._store.health(sid)
            oldest = c.get("oldest_pending_due")
            running = self._running.get(sid)
            out[sid] = {
                "kind": sink.kind,
                "pending": c.get("pending", 0),
                "held": c.get("held", 0),
                "delivered": c.get("delivered", 0),
                "failed": c.get("failed", 0),
                "oldest_pending_seconds": max(0.0, (now - oldest).total_seconds())
                if oldest else None,
                "consecutive_failures": h.failures,
                "retry_at": _iso(h.retry_at if h.failures else None),
                "last_error": h.last_error,
                "last_error_at": _iso(h.last_error_at),
                "last_success_at": _iso(h.last_success_at),
                "sending": running is not None and not running.done(),
            }
        return out

    def wake(self) -> None:
        """Make ``run`` deliver now (e.g. after the network came back)."""
        self._wake.set()

    def close(self) -> None:
        """Stop ``run``, wait for attempts in flight (bounded by their timeouts), close."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        with self._round_lock:
            self._pool.shutdown(wait=True)
            for sender in self._senders.values():
                sender.close()
            self._store.close()

    def __enter__(self) -> AlertDispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sink_round(self, sink_id: str, deadline: float | None) -> SinkRound:
        """Send one sink's due deliveries in order until done, a failure or the deadline."""
        health = self._store.health(sink_id)
        if health.failures and health.retry_at and self._clock() < health.retry_at:
            return SinkRound(sink_id, retry_at=health.retry_at, error=health.last_error)
        sender, delivered, rejected, after = self._senders[sink_id], 0, 0, 0
        while deadline is None or time.monotonic() < deadline:
            delivery = self._store.next_due(sink_id, self._clock(), after)
            if delivery is None:
                break
            after = delivery.seq
            try:
                sender.send(delivery, self._clock())
            except SinkRejected as exc:
                log.error("alert %s (%s) not delivered: %s", delivery.alert.key,
                          delivery.alert.state, exc)
                self._store.rejected(delivery, str(exc), self._clock())
                rejected += 1
            except SinkUnavailable as exc:
                return self._back_off(delivery, str(exc), exc.retry_after, delivered, rejected)
            except Exception as exc:  # a bug must not lose the alert: retry, loudly
                log.exception("alert sink %r failed unexpectedly on alert %s", sink_id,
                              delivery.alert.key)
                return self._back_off(delivery, f"sink {sink_id!r}: unexpected error: {exc!r}",
                                      None, delivered, rejected)
            else:
                self._store.delivered(delivery, self._clock())
                delivered += 1
                log.info("alert %s (%s) delivered to %s", delivery.alert.key,
                         delivery.alert.state, sink_id)
        return SinkRound(sink_id, delivered=delivered, rejected=rejected)

    def _back_off(self, delivery: Delivery, error: str, retry_after: float | None,
                  delivered: int, rejected: int) -> SinkRound:
        now, cfg = self._clock(), self._config
        failures = self._store.health(delivery.sink).failures + 1
        wait_s = backoff_seconds(failures, low=cfg.backoff_min_seconds,
                                 high=cfg.backoff_max_seconds, rng=self._rng)
        if retry_after is not None:
            wait_s = max(wait_s, min(retry_after, RETRY_AFTER_CAP_SECONDS))
        retry_at = now + timedelta(seconds=wait_s)
        window = timedelta(minutes=cfg.retry_max_minutes)
        gave_up = self._store.attempt_failed(
            delivery, error, now, retry_at, give_up_due_before=now - window,
            give_up_note=f"gave up after {cfg.retry_max_minutes:g} min without success",
        )
        if gave_up:
            log.error("gave up on %d alert deliveries to %r after %g min of failures; last "
                      "error: %s", gave_up, delivery.sink, cfg.retry_max_minutes, error)
        log.warning("%s (attempt %d for alert %s); next try in %.0f s", error,
                    delivery.attempts + 1, delivery.alert.key, wait_s)
        return SinkRound(delivery.sink, delivered=delivered, rejected=rejected,
                         gave_up=gave_up, retry_at=retry_at, error=error)

    def _maybe_prune(self) -> None:
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        removed = self._store.prune(now - timedelta(days=self._config.history_days))
        if removed:
            log.info("forgot %d finished alert deliveries older than %g days", removed,
                     self._config.history_days)


def _wants(sink: WebhookSink | EmailSink, alert: Alert) -> bool:
    if alert.state == "resolved" and not sink.send_resolved:
        return False
    return at_least(alert.severity, sink.min_severity)


def _sender(sink: WebhookSink | EmailSink, secrets: SecretStore, zone: ZoneInfo) -> Sender:
    if isinstance(sink, WebhookSink):
        return WebhookSender(sink, secrets, zone)
    return EmailSender(sink, secrets, zone)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([f"site.timezone: {tz!r}: not a known IANA time zone "
                           "(e.g. Europe/Amsterdam, America/Chicago, UTC)"]) from None


def _result(sink_id: str, future: Future[SinkRound]) -> SinkRound:
    exc = future.exception()
    if exc is None:
        return future.result()
    log.error("alert sink %r round failed: %r", sink_id, exc, exc_info=exc)
    return SinkRound(sink_id, error=f"delivery round failed: {exc!r}")


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
