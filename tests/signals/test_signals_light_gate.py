"""The light gate: which frames a zone is compared with its baseline on."""

from __future__ import annotations

from fieldagent.colour import ColourReport
from fieldagent.signals.config import LightGate
from fieldagent.signals.light import light_gate


def report(tint: float, frames: int = 50) -> ColourReport:
    return ColourReport("white_balance", tint, frames)


def test_only_light_close_to_the_usual_light_is_compared() -> None:
    gate = LightGate(max_tint=1.6)
    tints = [1.0, 1.2, 1.5, 1.7, 2.3]
    compared = [light_gate(report(t), 12.0, gate) is None for t in tints]
    assert compared == [True, True, True, False, False]
    reason = light_gate(report(2.3), 12.0, gate)
    assert reason is not None and "2.30" in reason and "lamps" in reason


def test_an_unknown_tint_is_compared_and_a_young_usual_light_waits_when_asked() -> None:
    assert light_gate(report(float("nan"), frames=0), 12.0, LightGate()) is None
    waiting = light_gate(report(1.0, frames=2), 12.0, LightGate(min_usual_frames=6))
    assert waiting is not None and "2 of 6" in waiting


def test_configured_hours_limit_the_comparison_and_the_gate_can_be_switched_off() -> None:
    daylight = LightGate(hours=(8.0, 18.0))
    assert light_gate(report(1.0), 12.0, daylight) is None
    assert light_gate(report(1.0), 19.5, daylight) is not None
    assert light_gate(report(5.0), 3.0, LightGate(enabled=False, hours=(8.0, 18.0))) is None
