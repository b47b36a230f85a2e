"""Self-alerts raise once and resolve once, with hysteresis, on an injected clock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fieldagent.alerts.rules import Alert
from fieldagent.telemetry import AgentStats, SelfAlerts, SelfAlertsConfig, SystemProbe
from tests.support.clock import SimClock
from tests.telemetry.helpers import ok_image, system_snapshot

GB = 1_000_000_000


def only(alerts: list[Alert], rule: str) -> list[Alert]:
    return [a for a in alerts if a.rule == rule]


def test_disk_alert_raises_once_and_resolves_once_with_hysteresis(tmp_path: Path) -> None:
    clock = SimClock()
    free = {"bytes": 50 * GB}
    probe = SystemProbe(tmp_path, clock=clock, sensors=None, thermal_dir=tmp_path,
                        disk_usage=lambda _p: (100 * GB, 100 * GB - free["bytes"], free["bytes"]))
    cfg = SelfAlertsConfig(disk_free_min_fraction=0.10, disk_free_min_bytes=GB,
                           disk_clear_factor=1.2)
    alerts = SelfAlerts(cfg, "gh-1", clock)
    stats = AgentStats(clock)
    seen: list[Alert] = []
    # free space (GB) over successive checks: falls below 10 %, hovers, recovers past 12 %
    for gb in (50, 20, 9, 8, 11, 9, 11.5, 12.5, 13, 9):
        free["bytes"] = int(gb * GB)
        clock.advance(60)
        seen += alerts.check(stats.snapshot(), probe.read())
    disk = only(seen, "agent-disk")
    assert [a.state for a in disk] == ["raised", "resolved", "raised"]
    raised, resolved = disk[0], disk[1]
    assert raised.severity == "critical" and raised.camera == "-" and raised.zone == "-"
    assert raised.key == resolved.key  # one episode
    assert "free disk" in raised.message.lower() and "retention" in raised.message
    assert raised.why["free_fraction"] == 0.09
    assert resolved.message.startswith("[RESOLVED] gh-1: agent: data disk nearly full")
    assert alerts.active() == ["agent-disk"]


def test_absolute_minimum_also_raises_on_a_big_disk() -> None:
    clock = SimClock()
    alerts = SelfAlerts(SelfAlertsConfig(disk_free_min_bytes=5 * GB), "gh-1", clock)
    snap = AgentStats(clock).snapshot()
    raised = alerts.check(snap, system_snapshot(total=1000 * GB, free=4 * GB))
    assert [a.rule for a in raised] == ["agent-disk"]


def latency_stats(clock: SimClock, baseline_ms: float, recent_ms: list[float]) -> AgentStats:
    stats = AgentStats(clock, latency_window=40, latency_baseline=40)
    for _ in range(40):
        stats.observe_image(ok_image(latency_ms=baseline_ms))
    for ms in recent_ms:
        stats.observe_image(ok_image(latency_ms=ms))
    return stats


def test_latency_spike_names_the_heat_when_the_cpu_is_hot() -> None:
    clock = SimClock()
    cfg = SelfAlertsConfig(latency_spike_factor=2.0, latency_clear_factor=1.5,
                           cpu_temp_warn_c=80)
    alerts = SelfAlerts(cfg, "gh-1", clock)
    stats = latency_stats(clock, 100.0, [])
    hot = system_snapshot(cpu_temp_c=86.0)
    assert only(alerts.check(stats.snapshot(), hot), "agent-latency") == []
    for _ in range(40):
        stats.observe_image(ok_image(latency_ms=250.0))
    first = only(alerts.check(stats.snapshot(), hot), "agent-latency")
    again = only(alerts.check(stats.snapshot(), hot), "agent-latency")
    assert [a.state for a in first] == ["raised"] and again == []
    alert = first[0]
    assert alert.why["cpu_temp_c"] == 86.0 and alert.why["ratio"] == 2.5
    assert "ventilation" in alert.message
    for _ in range(40):  # 1.7x: better, but not past the clear factor
        stats.observe_image(ok_image(latency_ms=170.0))
    assert only(alerts.check(stats.snapshot(), hot), "agent-latency") == []
    for _ in range(40):
        stats.observe_image(ok_image(latency_ms=110.0))
    assert [a.state for a in only(alerts.check(stats.snapshot(), hot), "agent-latency")] == [
        "resolved"]


def test_latency_advice_follows_what_is_known_about_the_temperature() -> None:
    clock = SimClock()
    stats = latency_stats(clock, 100.0, [300.0] * 40)
    cool = SelfAlerts(SelfAlertsConfig(), "gh-1", clock).check(
        stats.snapshot(), system_snapshot(cpu_temp_c=50.0))
    unknown = SelfAlerts(SelfAlertsConfig(), "gh-1", clock).check(
        stats.snapshot(), system_snapshot(cpu_temp_c=None))
    (cool_alert,) = only(cool, "agent-latency")
    (unknown_alert,) = only(unknown, "agent-latency")
    assert "another process" in cool_alert.message and cool_alert.why["cpu_temp_c"] == 50.0
    assert "Thermal throttling suspected" in unknown_alert.message
    assert "cpu_temp_c" not in unknown_alert.why


def test_latency_is_not_judged_before_the_baseline_ran() -> None:
    clock = SimClock()
    stats = latency_stats(clock, 100.0, [900.0] * 40)
    stats.reset_reference()  # e.g. a new model: a new baseline is needed
    for ms in [100.0] * 30 + [900.0] * 9:
        stats.observe_image(ok_image(latency_ms=ms))
    assert stats.snapshot().latency.baseline_p95_ms is None
    assert SelfAlerts(SelfAlertsConfig(), "gh-1", clock).check(
        stats.snapshot(), system_snapshot()) == []


def test_drift_raises_once_and_resolves_once() -> None:
    rng = np.random.default_rng(3)
    clock = SimClock()
    stats = AgentStats(clock, drift_window=300)
    alerts = SelfAlerts(SelfAlertsConfig(drift_threshold=0.25, drift_clear=0.10), "gh-1", clock)
    system = system_snapshot()

    def feed(b: float, n: int = 300) -> list[Alert]:
        for c in 0.25 + 0.75 * rng.beta(8.0, b, n):
            stats.observe_image(ok_image(confidences=(float(c),)))
        clock.advance(600)
        return only(alerts.check(stats.snapshot(), system), "agent-drift")

    assert feed(2.0) == []  # the reference itself
    assert feed(2.0) == []  # same distribution
    raised = feed(6.0)
    assert [a.state for a in raised] == ["raised"]
    assert float(raised[0].why["psi"]) >= 0.25
    assert "retrain" in raised[0].message
    assert feed(6.0) == []  # still drifted: no flood
    resolved = feed(2.0)
    assert [a.state for a in resolved] == ["resolved"] and resolved[0].since == raised[0].at


def test_cpu_temperature_alert_has_hysteresis() -> None:
    clock = SimClock()
    alerts = SelfAlerts(SelfAlertsConfig(cpu_temp_warn_c=80, cpu_temp_clear_margin_c=5),
                        "gh-1", clock)
    snap = AgentStats(clock).snapshot()
    states = []
    for temp in (70, 81, 78, 82, 76, None, 74, 75):
        clock.advance(60)
        states += [(temp, a.state) for a in alerts.check(snap, system_snapshot(cpu_temp_c=temp))
                   if a.rule == "agent-cpu-temp"]
    assert states == [(81, "raised"), (74, "resolved")]


def test_disabled_self_alerts_stay_silent() -> None:
    clock = SimClock()
    alerts = SelfAlerts(SelfAlertsConfig(enabled=False), "gh-1", clock)
    snap = AgentStats(clock).snapshot()
    assert alerts.check(snap, system_snapshot(free=0, cpu_temp_c=100.0)) == []


def test_state_survives_a_restart_without_a_second_raise() -> None:
    clock = SimClock()
    full = system_snapshot(free=GB // 2)
    snap = AgentStats(clock).snapshot()
    first = SelfAlerts(SelfAlertsConfig(), "gh-1", clock)
    (raised,) = first.check(snap, full)
    saved = json.loads(json.dumps(first.state()))
    clock.advance(3600)
    second = SelfAlerts(SelfAlertsConfig(), "gh-1", clock)
    second.restore(saved)
    assert second.check(snap, full) == []
    (resolved,) = second.check(snap, system_snapshot())
    assert resolved.state == "resolved" and resolved.key == raised.key
