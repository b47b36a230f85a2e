"""Cross-field rules of a policy, one small named function each.

Each rule raises :class:`PolicyProblem` naming the key path, the value and what to do.
:func:`run_checks` runs every rule and raises all problems at once, so a fleet admin fixes a
file in one pass. The rules protect the grower's alerts first: alerts are the most urgent
class, always uploaded, never evicted, never held back by windows or the daily budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fieldagent.policy.units import format_duration, format_size

if TYPE_CHECKING:
    from fieldagent.policy.model import Policy

MIN_ALERT_BYTES = 1_000_000
_MODE_SIZE = {"frame": 3, "crop": 2, "thumbnail": 1}


class PolicyProblem(ValueError):
    """One broken rule: where (``key.path``), the offending value, and what is wrong."""

    def __init__(self, path: str, value: Any, message: str) -> None:
        super().__init__(f"{path}: {value!r}: {message}")
        self.path, self.value, self.message = path, value, message


class PolicyProblems(ValueError):
    """Every broken rule of one policy (pydantic carries it out of the model validator)."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def alerts_most_urgent(p: Policy) -> None:
    """Alerts must be sent before anything else: their priority number is the lowest."""
    alert = p.classes.alert.priority
    for kind in ("signals", "heartbeat", "model_report", "image"):
        if p.klass(kind).priority <= alert:
            raise PolicyProblem(
                "classes.alert.priority", alert,
                f"alerts must be the most urgent class, but {kind} has priority "
                f"{p.klass(kind).priority}; give alerts a lower number than every other class",
            )


def alerts_always_upload(p: Policy) -> None:
    """An alert kept on the device never reaches the cloud's record of the incident."""
    if not p.classes.alert.upload:
        raise PolicyProblem("classes.alert.upload", False, "alerts must always be uploaded")


def alerts_never_evicted(p: Policy) -> None:
    """Dropping or thinning old alerts silently loses incidents; a full alert store refuses
    new ones instead, which is loud (and local alert sinks still notify the grower)."""
    mode = p.classes.alert.when_full
    if mode != "reject_new":
        raise PolicyProblem(
            "classes.alert.when_full", mode,
            "alerts must not be dropped or thinned; use reject_new and size max_bytes generously",
        )


def alerts_budget_exempt(p: Policy) -> None:
    """A spent daily budget must never hold back an alert."""
    if not p.classes.alert.budget_exempt:
        raise PolicyProblem(
            "classes.alert.budget_exempt", False,
            "alerts must always go, even when the daily budget is spent; set it to true",
        )


def alerts_no_windows(p: Policy) -> None:
    """The grower expects alerts within seconds, not at the next night window."""
    if p.classes.alert.windows:
        raise PolicyProblem(
            "classes.alert.windows", p.classes.alert.windows,
            "alerts must be sent at any time; remove the windows (use them for images)",
        )


def alert_cap_floor(p: Policy) -> None:
    """Alerts carry their evidence image; below 1 MB a handful of alerts fills the store."""
    cap = p.classes.alert.max_bytes
    if cap is not None and cap < MIN_ALERT_BYTES:
        raise PolicyProblem(
            "classes.alert.max_bytes", format_size(cap),
            f"alerts need at least {format_size(MIN_ALERT_BYTES)} (they carry evidence images)",
        )


def class_caps_within_total(p: Policy) -> None:
    """A class cap above the outbox total can never be reached and hides a typo."""
    total = p.link.total_max_bytes
    for kind in ("alert", "signals", "heartbeat", "model_report", "image"):
        cap = p.klass(kind).max_bytes
        if cap is not None and cap > total:
            raise PolicyProblem(
                f"classes.{kind}.max_bytes", format_size(cap),
                f"larger than link.total_max_bytes ({format_size(total)}); lower it or raise "
                "the total",
            )


def budget_shares_need_budget(p: Policy) -> None:
    """A share of a budget that does not exist does nothing; the admin probably meant one."""
    if p.link.daily_budget is not None:
        return
    for kind in ("alert", "signals", "heartbeat", "model_report", "image"):
        if p.klass(kind).budget_share is not None:
            raise PolicyProblem(
                f"classes.{kind}.budget_share", p.klass(kind).budget_share,
                "has no effect without link.daily_budget; set a daily budget or remove it",
            )


def ramp_needs_rate(p: Policy) -> None:
    """The ramp scales the rate caps; with no total cap there is nothing to scale."""
    if p.link.ramp is not None and p.link.rate is None:
        raise PolicyProblem(
            "link.ramp", p.link.ramp.model_dump(),
            "the ramp scales link.rate; set link.rate or remove the ramp",
        )


def retention_outlasts_horizon(p: Policy) -> None:
    """Alerts and signals must survive a backlog as long as the agent tolerates one, or they
    expire before the agent even starts degrading images to make room on the link."""
    for kind in ("alert", "signals"):
        keep = p.klass(kind).retention
        if keep < p.link.horizon:
            raise PolicyProblem(
                f"classes.{kind}.retention", format_duration(keep),
                f"shorter than link.horizon ({format_duration(p.link.horizon)}): {kind} would "
                "expire before the backlog is due to drain; keep them longer",
            )


def batch_fits_signals_cap(p: Policy) -> None:
    """A signal batch larger than the signals store could never be queued."""
    cap = p.classes.signals.max_bytes
    if cap is not None and p.batching.max_bytes > cap:
        raise PolicyProblem(
            "batching.max_bytes", format_size(p.batching.max_bytes),
            f"larger than classes.signals.max_bytes ({format_size(cap)})",
        )


def quotas_consistent(p: Policy) -> None:
    """An hourly quota that can never add up to the daily one makes the daily quota a lie."""
    s = p.sampling
    if s.quota_per_hour * 24 < s.quota_per_day:
        raise PolicyProblem(
            "sampling.quota_per_day", s.quota_per_day,
            f"can never be reached with quota_per_hour {s.quota_per_hour} "
            f"(at most {s.quota_per_hour * 24} a day); lower it or raise the hourly quota",
        )


def uncertain_has_threshold(p: Policy) -> None:
    """'Keep uncertain images' needs a definition of uncertain."""
    u = p.sampling.uncertain
    if u.enabled and u.top_prob_below is None and u.entropy_above is None:
        raise PolicyProblem(
            "sampling.uncertain", u.model_dump(),
            "enabled but neither top_prob_below nor entropy_above is set; set one or disable",
        )


def ladder_steps_unique(p: Policy) -> None:
    """Each rung is taken once; a repeated step is a copy-paste slip."""
    names = [s.step for s in p.degrade.ladder]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise PolicyProblem(f"degrade.ladder[{i}]", name, "this step is already on the ladder")


def ladder_gets_stricter(p: Policy) -> None:
    """Every rung must save bytes; a rung that changes nothing wastes a step_up_after wait."""
    from fieldagent.policy.model import LowerJpegQuality  # model imports this module

    streams = _image_streams(p)
    size = max(_MODE_SIZE[mode] for mode, _ in streams)
    quality = max(q for _, q in streams)
    for i, s in enumerate(p.degrade.ladder):
        if s.step in ("crops_only", "thumbnails"):
            new = _MODE_SIZE["crop" if s.step == "crops_only" else "thumbnail"]
            if new >= size:
                raise PolicyProblem(
                    f"degrade.ladder[{i}]", s.step,
                    "saves nothing: every kept image is already this small at this point of "
                    "the ladder (see sampling.*.mode); remove or reorder it",
                )
            size = new
        elif isinstance(s, LowerJpegQuality):
            _check_quality(i, s.quality, quality)
            quality = s.quality


def _image_streams(p: Policy) -> list[tuple[str, int]]:
    """(mode, jpeg quality) of every kind of image the sampler may keep."""
    s = p.sampling
    out: list[tuple[str, int]] = [(s.mode, s.jpeg_quality)]
    if s.alert_evidence.enabled:
        out.append((s.alert_evidence.mode, s.alert_evidence.jpeg_quality))
    if s.daily_reference.enabled:
        out.append((s.daily_reference.mode, s.daily_reference.jpeg_quality))
    return out


def _check_quality(index: int, step_quality: int, current: int) -> None:
    if step_quality >= current:
        raise PolicyProblem(
            f"degrade.ladder[{index}].quality", step_quality,
            f"must be below the highest quality in use ({current}) to save bytes",
        )


CHECKS: tuple[Callable[[Policy], None], ...] = (
    alerts_most_urgent, alerts_always_upload, alerts_never_evicted, alerts_budget_exempt,
    alerts_no_windows, alert_cap_floor, class_caps_within_total, budget_shares_need_budget,
    ramp_needs_rate, retention_outlasts_horizon, batch_fits_signals_cap, quotas_consistent,
    uncertain_has_threshold, ladder_steps_unique, ladder_gets_stricter,
)


def run_checks(p: Policy) -> None:
    """Run every rule; raise :class:`PolicyProblems` listing all that fail."""
    problems: list[PolicyProblem] = []
    for check in CHECKS:
        try:
            check(p)
        except PolicyProblem as problem:
            problems.append(problem)
    if problems:
        raise PolicyProblems(problems)
