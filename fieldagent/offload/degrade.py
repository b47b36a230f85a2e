"""Adapt what the agent collects to what the link can actually drain.

When the backlog would take longer than the policy's ``link.horizon`` to drain at the
measured rate, the planner climbs one rung of the policy's degradation ladder (fewer samples,
crops, thumbnails, lower JPEG quality, essentials only). When the backlog drains in under
half the horizon for ``recover_after``, it climbs down one rung. The gap between the two
thresholds and the waits keep it from flapping. The planner is pure: the caller keeps the
:class:`DegradeState` (and may persist it) and applies :func:`sampling_overrides` to the
image samplers.

Which way the level flows: the uplink measures the link and the backlog, runs the planner
and keeps the state (``Uploader.degrade_state``); the offloader reads that state through a
:class:`DegradeSource` at each image and decides here what it means for the samplers.
Nothing flows back: the offloader never changes the level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from fieldagent.offload.sampling import SamplingOverrides
from fieldagent.policy.model import KINDS, ImageMode, LowerJpegQuality, LowerSampling, Policy
from fieldagent.policy.units import format_duration, format_size, open_share, parse_window

_DAY = 86_400.0


@dataclass(frozen=True)
class DegradeState:
    """Where on the ladder the agent stands, and why."""

    level: int = 0
    steps_active: tuple[str, ...] = ()
    reason: str = "not assessed yet"
    drain_eta_s: float | None = None
    changed_at: datetime | None = None  # last step up or down
    calm_since: datetime | None = None  # since when the backlog drains in < horizon / 2


class DegradePlanner:
    """Chooses the ladder level from the backlog and the measured rate."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ladder = policy.degrade.ladder
        self._open = {k: open_share([parse_window(w) for w in policy.klass(k).windows])
                      for k in KINDS}

    def drain_eta(self, backlog: Mapping[str, int], rate: float | None) -> float | None:
        """Rough seconds to send the backlog: each uploading kind drains at the measured rate
        limited by the policy's caps and its share of the daily budget, only while its
        windows are open, one kind after another. Errs on the slow side; None without a rate."""
        if rate is None or rate <= 0:
            return None
        eta = 0.0
        for kind, nbytes in backlog.items():
            c = self.policy.klass(kind)
            if nbytes <= 0 or not c.upload:
                continue
            eta += nbytes / (self._kind_rate(kind, rate) * self._open[kind])
        return eta

    def _kind_rate(self, kind: str, measured: float) -> float:
        link, c = self.policy.link, self.policy.klass(kind)
        caps = [measured, link.rate, c.rate]
        if link.daily_budget and not c.budget_exempt:
            caps.append(link.daily_budget * (c.budget_share or 1.0) / _DAY)
        return min(x for x in caps if x is not None)

    def update(
        self,
        now: datetime,
        backlog: Mapping[str, int],
        rate: float | None,
        state: DegradeState,
    ) -> DegradeState:
        """The next state. Without a rate measurement (offline, or too few transfers yet)
        the level is held: degrading blindly would throw away samples for nothing."""
        level = min(state.level, len(self.ladder))
        eta = self.drain_eta(backlog, rate)
        if eta is None:
            return self._state(
                state,
                level,
                None,
                f"no throughput measurement; holding level {level}",
                calm_since=None,
            )
        why = f"backlog {format_size(sum(backlog.values()))} drains in ~{_eta(eta)}"
        horizon = self.policy.link.horizon
        if eta > horizon:
            return self._step_up(now, state, level, eta, why)
        if eta < horizon / 2:
            return self._step_down(now, state, level, eta, why)
        return self._state(
            state, level, eta, f"{why}, within the horizon; holding", calm_since=None
        )

    def _step_up(
        self, now: datetime, state: DegradeState, level: int, eta: float, why: str
    ) -> DegradeState:
        why += f", longer than the horizon ({_eta(self.policy.link.horizon)})"
        if level >= len(self.ladder):
            return self._state(
                state, level, eta, f"{why}; already on the last step", calm_since=None
            )
        if not _waited(state.changed_at, now, self.policy.degrade.step_up_after):
            return self._state(
                state, level, eta, f"{why}; letting the last step take effect", calm_since=None
            )
        step = self.ladder[level].step
        return self._state(
            state, level + 1, eta, f"{why}: step up to {step}", calm_since=None, changed_at=now
        )

    def _step_down(
        self, now: datetime, state: DegradeState, level: int, eta: float, why: str
    ) -> DegradeState:
        calm = state.calm_since or now
        if level == 0:
            return self._state(state, 0, eta, f"{why}; nothing to undo", calm_since=calm)
        if not _waited(calm, now, self.policy.degrade.recover_after):
            return self._state(
                state, level, eta, f"{why}; recovering, waiting to step down", calm_since=calm
            )
        step = self.ladder[level - 1].step
        return self._state(
            state, level - 1, eta, f"{why}: step down, undo {step}", calm_since=now, changed_at=now
        )

    def _state(
        self,
        old: DegradeState,
        level: int,
        eta: float | None,
        reason: str,
        calm_since: datetime | None,
        changed_at: datetime | None = None,
    ) -> DegradeState:
        return replace(
            old,
            level=level,
            steps_active=tuple(s.step for s in self.ladder[:level]),
            reason=reason,
            drain_eta_s=eta,
            calm_since=calm_since,
            changed_at=changed_at or old.changed_at,
        )

    def overrides(self, state: DegradeState) -> SamplingOverrides:
        """What the active steps impose on the image samplers (:func:`sampling_overrides`)."""
        return sampling_overrides(self.policy, state)


class DegradeSource(Protocol):
    """Where the offloader reads the current degrade level (module docstring: the level
    flows up from the uplink, which measures the link, to the offloader, which keeps less).
    The ``Uploader`` is one; :class:`HeldLevel` is one that never moves."""

    @property
    def degrade_state(self) -> DegradeState:
        """Where on the ladder the agent stands now."""
        ...


@dataclass(frozen=True)
class HeldLevel:
    """A degrade level that follows no link: full offload by default (tests, one-shot
    processing), or a fixed rung, e.g. for a benchmark of what that rung sends."""

    degrade_state: DegradeState = DegradeState()


FULL_OFFLOAD = HeldLevel()


def sampling_overrides(policy: Policy, state: DegradeState) -> SamplingOverrides:
    """What the policy's ladder steps active at ``state.level`` impose on the samplers:
    each step only shrinks what is kept (fewer samples, smaller images, lower quality)."""
    factor, essential = 1.0, False
    mode: ImageMode | None = None
    quality: int | None = None
    for step in policy.degrade.ladder[: state.level]:
        if isinstance(step, LowerSampling):
            factor *= step.factor
        elif isinstance(step, LowerJpegQuality):
            quality = step.quality if quality is None else min(quality, step.quality)
        elif step.step == "crops_only":
            mode = mode or "crop"
        elif step.step == "thumbnails":
            mode = "thumbnail"
        else:
            essential = True
    return SamplingOverrides(factor, mode, quality, essential)

def _waited(since: datetime | None, now: datetime, seconds: float) -> bool:
    return since is None or (now - since).total_seconds() >= seconds


def _eta(seconds: float) -> str:
    if math.isinf(seconds):
        return "never"
    return format_duration(round(seconds / 60) * 60) if seconds >= 60 else f"{seconds:.0f}s"
