"""Bandwidth decisions: may this many bytes of this kind go now, and if not, when?

Pure logic with an injected clock: every method takes ``now`` (a timezone-aware datetime)
and nothing sleeps or reads the clock, so a simulated week runs in a second. The uploader
asks :meth:`Bandwidth.permit` before each transfer and waits (or tries another item) when
the answer is no. Local-time rules (windows, the daily budget's midnight) use the site's
IANA time zone, so they follow daylight-saving changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fieldagent.policy.model import KINDS, Policy
from fieldagent.policy.units import format_size, in_spans, open_share, parse_window

_MINUTE = timedelta(minutes=1)


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


class TokenBucket:
    """A byte-rate cap. Tokens refill at ``rate`` up to ``burst``; a transfer larger than the
    burst may start once the bucket is full and leaves it in debt, so the long-run rate holds
    for any transfer size."""

    def __init__(self, rate_bytes_per_s: float, burst_bytes: float) -> None:
        if rate_bytes_per_s <= 0 or burst_bytes <= 0:
            raise ValueError("a token bucket needs a positive rate and burst")
        self.rate, self.burst = rate_bytes_per_s, burst_bytes
        self.tokens = burst_bytes
        self._at: datetime | None = None

    def _refill(self, now: datetime) -> None:
        if self._at is not None:
            elapsed = max(0.0, (now - self._at).total_seconds())
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self._at = now if self._at is None else max(self._at, now)

    def wait_for(self, n: float, now: datetime) -> float:
        """Seconds until ``n`` bytes may start, without taking anything. Rounded up to whole
        microseconds (datetime's resolution) so that waiting exactly that long is enough."""
        self._refill(now)
        need = min(n, self.burst)
        if self.tokens >= need:
            return 0.0
        return math.ceil((need - self.tokens) / self.rate * 1e6) / 1e6

    def take(self, n: float, now: datetime) -> None:
        """Spend ``n`` bytes (possibly into debt)."""
        self._refill(now)
        self.tokens -= n

    def reserve(self, n: float, now: datetime) -> float:
        """Take ``n`` bytes now and return how long to wait before sending them."""
        wait = self.wait_for(n, now)
        self.take(n, now)
        return wait

    def set_rate(self, rate_bytes_per_s: float, now: datetime) -> None:
        """Change the rate from ``now`` on (the ramp does this); earlier time refills at the
        old rate."""
        self._refill(now)
        self.rate = max(rate_bytes_per_s, 1e-9)


class DailyBudget:
    """Bytes per local day on a metered link; the count resets at local midnight."""

    def __init__(self, bytes_per_day: int, tz: ZoneInfo | str = "UTC") -> None:
        self.bytes_per_day, self.tz = bytes_per_day, _zone(tz)
        self.spent, self._day = 0, date.min

    def _roll(self, now: datetime) -> None:
        today = now.astimezone(self.tz).date()
        if today != self._day:
            self.spent, self._day = 0, today

    def remaining(self, now: datetime) -> int:
        """Bytes still allowed today (never negative)."""
        self._roll(now)
        return max(0, self.bytes_per_day - self.spent)

    def spend(self, n: int, now: datetime) -> None:
        """Count ``n`` bytes against today's budget (may overshoot for exempt traffic)."""
        self._roll(now)
        self.spent += n

    def resets_at(self, now: datetime) -> datetime:
        """The next local midnight."""
        tomorrow = now.astimezone(self.tz).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(0, 0), tzinfo=self.tz)

    def state(self) -> dict[str, Any]:
        """What to persist so a restart does not hand out a fresh budget."""
        return {"day": self._day.isoformat(), "spent": self.spent}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue a day's count saved by :meth:`state`."""
        self._day, self.spent = date.fromisoformat(state["day"]), int(state["spent"])


@dataclass(frozen=True)
class TimeWindows:
    """Local time-of-day windows ("22:00-06:00" wraps midnight); none means always open."""

    spans: tuple[tuple[int, int], ...]
    tz: ZoneInfo

    @classmethod
    def parse(cls, windows: list[str], tz: ZoneInfo | str = "UTC") -> TimeWindows:
        """Windows as written in a policy; ValueError names a bad one."""
        return cls(tuple(parse_window(w) for w in windows), _zone(tz))

    def _open_at_minute(self, minute: float) -> bool:
        return in_spans(self.spans, minute)

    def is_open(self, now: datetime) -> bool:
        """Whether uploads may run at ``now``."""
        if not self.spans:
            return True
        local = now.astimezone(self.tz)
        return self._open_at_minute(local.hour * 60 + local.minute + local.second / 60)

    def next_open(self, now: datetime) -> datetime:
        """``now`` if open, else the start of the next window (in ``now``'s time zone)."""
        if self.is_open(now):
            return now
        local_day = now.astimezone(self.tz).date()
        starts = [
            datetime.combine(local_day + timedelta(days=d), time(s // 60, s % 60), tzinfo=self.tz)
            for d in (0, 1, 2)
            for s, _ in self.spans
        ]
        good = [t for t in starts if t > now and self.is_open(t)]
        return min(good).astimezone(now.tzinfo) if good else self._scan(now)

    def _scan(self, now: datetime) -> datetime:
        """Fallback when a window starts inside a daylight-saving gap: walk minute by minute."""
        t = now.replace(second=0, microsecond=0)
        for _ in range(3 * 1440):
            t += _MINUTE
            if self.is_open(t):
                return t
        raise ValueError("windows never open")  # unreachable: parse refuses empty windows

    def open_fraction(self) -> float:
        """Share of the day the windows are open (overlaps counted once)."""
        return open_share(self.spans)


class Ramp:
    """After a reconnect, start at ``start_fraction`` of the rate caps and climb linearly to
    the full caps over ``seconds``, so a waking backlog does not flood a shared link."""

    def __init__(self, start_fraction: float, seconds: float) -> None:
        self.start, self.seconds = start_fraction, max(seconds, 1e-9)
        self._since: datetime | None = None

    def reconnected(self, now: datetime) -> None:
        """The link came back (or the agent started): begin a new ramp."""
        self._since = now

    def factor(self, now: datetime) -> float:
        """Multiplier for the rate caps, from ``start_fraction`` to 1."""
        if self._since is None:
            return 1.0
        progress = (now - self._since).total_seconds() / self.seconds
        return self.start + (1.0 - self.start) * min(1.0, max(0.0, progress))


class ThroughputEstimator:
    """The link's measured upload rate: an EWMA of bytes and of seconds over transfers
    (a ratio of averages, so long transfers weigh more). Transfers under ``min_bytes`` are
    ignored: their time is mostly round-trip latency and would make the link look slow."""

    def __init__(self, alpha: float = 0.3, min_bytes: int = 256_000, min_samples: int = 3) -> None:
        self.alpha, self.min_bytes, self.min_samples = alpha, min_bytes, min_samples
        self._bytes = self._seconds = 0.0
        self.samples = 0

    def observe(self, nbytes: int, seconds: float) -> None:
        """Record one finished transfer."""
        if nbytes < self.min_bytes or seconds <= 0:
            return
        if self.samples == 0:
            self._bytes, self._seconds = float(nbytes), seconds
        else:
            self._bytes += self.alpha * (nbytes - self._bytes)
            self._seconds += self.alpha * (seconds - self._seconds)
        self.samples += 1

    def rate(self) -> float | None:
        """Bytes per second, or None until ``min_samples`` real transfers were seen."""
        return self._bytes / self._seconds if self.samples >= self.min_samples else None


@dataclass(frozen=True)
class Decision:
    """The answer to "may these bytes go now?"; ``wait_s`` is when to ask again
    (``inf``: never, e.g. a local-only class or an item larger than the daily budget)."""

    allowed: bool
    wait_s: float
    reason: str


class Bandwidth:
    """All of a policy's link rules together: per-class and total rate caps (scaled by the
    ramp), per-class windows, the daily budget with per-class shares and exempt classes.

    Exempt classes (alerts always) still count their bytes against the budget, because the
    metered link bills them, but are never held back by it, nor by the *total* rate cap;
    they take their bytes from the total bucket, so other classes yield to them."""

    def __init__(self, policy: Policy, tz: ZoneInfo | str = "UTC", burst_s: float = 2.0) -> None:
        self.policy, self.tz = policy, _zone(tz)
        link = policy.link
        self._base: dict[str, float] = {k: policy.klass(k).rate or 0.0 for k in KINDS}
        self._base["*"] = link.rate or 0.0
        self._buckets = {
            k: TokenBucket(r, max(r * burst_s, 16_000.0)) for k, r in self._base.items() if r > 0
        }
        self._windows = {k: TimeWindows.parse(policy.klass(k).windows, self.tz) for k in KINDS}
        self._ramp = Ramp(link.ramp.start_fraction, link.ramp.over) if link.ramp else None
        budget = link.daily_budget
        self._budget = DailyBudget(budget, self.tz) if budget else None
        self._shares = {
            k: DailyBudget(round(budget * s), self.tz)
            for k in KINDS
            if budget and (s := policy.klass(k).budget_share) is not None
        }

    def reconnected(self, now: datetime) -> None:
        """Call when the link comes back (and at start-up) to begin the ramp."""
        if self._ramp:
            self._ramp.reconnected(now)

    def windows(self, kind: str) -> TimeWindows:
        """The upload windows of one kind (the degrade planner uses their open fraction)."""
        return self._windows[kind]

    def permit(self, kind: str, nbytes: int, now: datetime) -> Decision:
        """May ``nbytes`` of ``kind`` start now? If allowed, the bytes are counted as sent."""
        for check in (self._local_only, self._window, self._daily, self._rate):
            refused = check(kind, nbytes, now)
            if refused is not None:
                return refused
        self._commit(kind, nbytes, now)
        return Decision(True, 0.0, "ok")

    def _local_only(self, kind: str, nbytes: int, now: datetime) -> Decision | None:
        if self.policy.klass(kind).upload:
            return None
        return Decision(False, math.inf, f"{kind} is kept on the device only (upload: false)")

    def _window(self, kind: str, nbytes: int, now: datetime) -> Decision | None:
        w = self._windows[kind]
        if w.is_open(now):
            return None
        opens = w.next_open(now)
        return Decision(
            False,
            (opens - now).total_seconds(),
            f"window closed until {opens.astimezone(self.tz):%H:%M}",
        )

    def _daily(self, kind: str, nbytes: int, now: datetime) -> Decision | None:
        if self._budget is None or self.policy.klass(kind).budget_exempt:
            return None
        for budget, label in (
            (self._shares.get(kind), f"{kind} share of the daily budget"),
            (self._budget, "daily budget"),
        ):
            if budget is None or nbytes <= budget.remaining(now):
                continue
            if nbytes > budget.bytes_per_day:
                return Decision(
                    False,
                    math.inf,
                    f"item ({format_size(nbytes)}) is larger than "
                    f"the {label} ({format_size(budget.bytes_per_day)}); it can "
                    "never be sent: lower the image size or raise the budget",
                )
            resets = budget.resets_at(now)
            return Decision(
                False,
                (resets - now).total_seconds(),
                f"{label} spent ({format_size(budget.bytes_per_day)}), resets {resets:%H:%M}",
            )
        return None

    def _rate(self, kind: str, nbytes: int, now: datetime) -> Decision | None:
        factor = self._ramp.factor(now) if self._ramp else 1.0
        waits: list[tuple[float, str]] = []
        for key in self._bucket_keys(kind):
            bucket = self._buckets[key]
            bucket.set_rate(self._base[key] * factor, now)
            label = "total" if key == "*" else kind
            waits.append((bucket.wait_for(nbytes, now), f"{label} {format_size(bucket.rate)}/s"))
        wait, cap = max(waits, default=(0.0, ""))
        if wait <= 0:
            return None
        ramping = f", ramping after reconnect at {factor:.0%}" if factor < 1 else ""
        return Decision(False, wait, f"rate cap ({cap}{ramping})")

    def _bucket_keys(self, kind: str) -> list[str]:
        """Buckets that may hold ``kind`` back: its own cap, and the total unless exempt."""
        keys = [kind] if kind in self._buckets else []
        if "*" in self._buckets and not self.policy.klass(kind).budget_exempt:
            keys.append("*")
        return keys

    def _commit(self, kind: str, nbytes: int, now: datetime) -> None:
        for key in {kind, "*"} & self._buckets.keys():
            self._buckets[key].take(nbytes, now)
        for budget in (self._budget, self._shares.get(kind)):
            if budget is not None:
                budget.spend(nbytes, now)

    def state(self) -> dict[str, Any]:
        """Daily-budget counts to persist across restarts (rate buckets start fresh)."""
        out = {k: b.state() for k, b in self._shares.items()}
        if self._budget is not None:
            out["*"] = self._budget.state()
        return out

    def restore(self, state: dict[str, Any]) -> None:
        """Continue the counts saved by :meth:`state`; unknown entries are ignored."""
        for key, saved in state.items():
            budget = self._budget if key == "*" else self._shares.get(key)
            if budget is not None:
                budget.restore(saved)
