"""Alerts about the agent itself, with the same raised/resolved contract as grower alerts.

Checked every heartbeat (or more often) on a stats and a system snapshot:

* ``agent-latency``: the recent p95 model latency is ``latency_spike_factor`` times its
  baseline. On a fanless box in a greenhouse the usual cause is heat (the CPU throttles),
  so the CPU temperature goes into ``why`` when it is known and decides the advice.
* ``agent-drift``: the model's confidence distribution moved away from its reference
  (population stability index, see ``stats``): the scene, the light or the crop changed.
* ``agent-disk``: the data disk is nearly full; the outbox will soon refuse new items.
* ``agent-cpu-temp``: the CPU is hot even before latency suffers.

Each raises once when its figure crosses the raise threshold and resolves once when it is
back past the (lower) clear threshold: the gap is the hysteresis that stops a figure
hovering at a threshold from flooding the technician. A figure that cannot be read (no
sensor, windows not full yet) changes nothing. Alerts are camera- and zone-level ``-``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fieldagent.alerts.rules import CAMERA_LEVEL, Alert
from fieldagent.telemetry.config import SelfAlertsConfig
from fieldagent.telemetry.stats import StatsSnapshot
from fieldagent.telemetry.system import SystemSnapshot

Why = dict[str, float | str]


@dataclass(frozen=True)
class Verdict:
    """What one rule sees now: raise condition, clear condition, evidence, advice."""

    holds: bool
    clear: bool
    why: Why
    text: str
    advice: str


@dataclass(frozen=True)
class SelfRule:
    id: str
    severity: str
    what: str
    judge: Callable[[SelfAlertsConfig, StatsSnapshot, SystemSnapshot], Verdict | None]


class SelfAlerts:
    """Raises and resolves the agent's own alerts (module docstring)."""

    def __init__(
        self, config: SelfAlertsConfig, site: str, clock: Callable[[], datetime]
    ) -> None:
        self.config, self.site, self._clock = config, site, clock
        self._since: dict[str, datetime] = {}  # rule id -> when its open alert was raised

    def check(self, stats: StatsSnapshot, system: SystemSnapshot) -> list[Alert]:
        """The alerts that change state now (usually none)."""
        if not self.config.enabled:
            return []
        now, out = self._clock(), []
        for rule in RULES:
            verdict = rule.judge(self.config, stats, system)
            if verdict is None:
                continue
            if rule.id not in self._since and verdict.holds:
                self._since[rule.id] = now
                out.append(self._alert(rule, verdict, "raised", now, now))
            elif rule.id in self._since and verdict.clear:
                since = self._since.pop(rule.id)
                out.append(self._alert(rule, verdict, "resolved", now, since))
        return out

    def active(self) -> list[str]:
        """Rule ids whose alert is raised now."""
        return sorted(self._since)

    def state(self) -> dict[str, str]:
        """JSON-ready open alerts, so a restart neither re-raises nor forgets them."""
        return {rule: since.isoformat() for rule, since in sorted(self._since.items())}

    def restore(self, state: Mapping[str, str]) -> None:
        known = {r.id for r in RULES}
        self._since = {r: datetime.fromisoformat(s) for r, s in state.items() if r in known}

    def _alert(
        self, rule: SelfRule, v: Verdict, state: Literal["raised", "resolved"], at: datetime,
        since: datetime,
    ) -> Alert:
        if state == "raised":
            verb = rule.severity.upper()
            message = f"[{verb}] {self.site}: agent: {rule.what}: {v.text}. {v.advice}"
        else:
            message = f"[RESOLVED] {self.site}: agent: {rule.what}: back to normal ({v.text})"
        return Alert(self.site, CAMERA_LEVEL, CAMERA_LEVEL, rule.id, state, rule.severity,
                     rule.what, v.why, at, since, message)


def judge_latency(
    cfg: SelfAlertsConfig, stats: StatsSnapshot, system: SystemSnapshot
) -> Verdict | None:
    lat = stats.latency
    ratio = lat.ratio
    if ratio is None or lat.p95_ms is None or lat.baseline_p95_ms is None:
        return None  # the baseline runs have not all run yet
    why: Why = {"p95_ms": round(lat.p95_ms, 1), "baseline_p95_ms": round(lat.baseline_p95_ms, 1),
                "ratio": round(ratio, 2), "factor": cfg.latency_spike_factor}
    temp = system.cpu_temp_c
    text = (f"model p95 latency {lat.p95_ms:.0f} ms is {ratio:.1f}x its baseline "
            f"{lat.baseline_p95_ms:.0f} ms")
    if temp is None:
        advice = ("Thermal throttling suspected: check the cabinet's ventilation and fan, "
                  "then look for another process using the CPU (top)")
    else:
        why["cpu_temp_c"] = round(temp, 1)
        text += f"; CPU at {temp:.0f} °C"
        if temp >= cfg.cpu_temp_warn_c:
            advice = ("The CPU is hot, so it is throttling: check the cabinet's ventilation "
                      "and fan and keep the device out of direct sun")
        else:
            advice = ("The CPU is not hot, so heat is unlikely: look for another process "
                      "using the CPU or memory (top); reboot the device if it persists")
    return Verdict(ratio >= cfg.latency_spike_factor, ratio < cfg.latency_clear_factor,
                   why, text, advice)


def judge_drift(
    cfg: SelfAlertsConfig, stats: StatsSnapshot, system: SystemSnapshot
) -> Verdict | None:
    d = stats.drift
    if d.psi is None or d.confidence_mean_reference is None or d.confidence_mean_recent is None:
        return None
    why: Why = {"psi": round(d.psi, 3), "threshold": cfg.drift_threshold,
                "confidence_mean_reference": round(d.confidence_mean_reference, 3),
                "confidence_mean_recent": round(d.confidence_mean_recent, 3),
                "model_version": d.model_version or "unknown"}
    text = (f"the model's confidence has shifted since {d.reference_started_at:%Y-%m-%d %H:%M} "
            f"UTC (drift index {d.psi:.2f}; mean confidence {d.confidence_mean_reference:.2f} "
            f"-> {d.confidence_mean_recent:.2f})")
    advice = ("Look at recent annotated images for a changed view, new lamps or shade screens, "
              "or a new crop or growth stage; if the scene really changed, send labelled "
              "samples so the model can be retrained")
    return Verdict(d.psi >= cfg.drift_threshold, d.psi < cfg.drift_clear, why, text, advice)


def judge_disk(
    cfg: SelfAlertsConfig, stats: StatsSnapshot, system: SystemSnapshot
) -> Verdict | None:
    free, fraction = system.disk_free_bytes, system.disk_free_fraction
    if free is None or fraction is None:
        return None
    low = fraction < cfg.disk_free_min_fraction or free < cfg.disk_free_min_bytes
    k = cfg.disk_clear_factor
    clear = fraction >= cfg.disk_free_min_fraction * k and free >= cfg.disk_free_min_bytes * k
    why: Why = {"free_bytes": float(free), "free_fraction": round(fraction, 4),
                "min_fraction": cfg.disk_free_min_fraction,
                "min_bytes": float(cfg.disk_free_min_bytes), "data_dir": system.data_dir}
    text = f"{free / 1e9:.1f} GB ({fraction:.0%}) free on the disk holding {system.data_dir}"
    advice = ("Free disk space, or lower image retention and the outbox caps in the offload "
              "policy; when the disk is full the outbox refuses new items")
    return Verdict(low, clear, why, text, advice)


def judge_cpu_temp(
    cfg: SelfAlertsConfig, stats: StatsSnapshot, system: SystemSnapshot
) -> Verdict | None:
    temp = system.cpu_temp_c
    if temp is None:
        return None
    why: Why = {"cpu_temp_c": round(temp, 1), "warn_c": cfg.cpu_temp_warn_c}
    text = f"CPU at {temp:.0f} °C (warning at {cfg.cpu_temp_warn_c:.0f} °C)"
    advice = ("Check the cabinet's ventilation and fan and shade the device; it slows down "
              "and may shut itself off when it gets hotter")
    return Verdict(temp >= cfg.cpu_temp_warn_c,
                   temp <= cfg.cpu_temp_warn_c - cfg.cpu_temp_clear_margin_c, why, text, advice)


RULES: tuple[SelfRule, ...] = (
    SelfRule("agent-latency", "warning", "inference slower than usual", judge_latency),
    SelfRule("agent-drift", "warning", "model confidence drift", judge_drift),
    SelfRule("agent-disk", "critical", "data disk nearly full", judge_disk),
    SelfRule("agent-cpu-temp", "warning", "CPU hot", judge_cpu_temp),
)
