"""A model that did not beat the colour signals cannot fire rules; no model paints a zone."""

from __future__ import annotations

from fieldagent.annotate import LEGEND, zone_colour
from fieldagent.colour.correct import ColourReport
from fieldagent.inference.session import ModelOutput
from fieldagent.pipeline import RoiResult, _observations
from fieldagent.quality.report import QualityReport

_BAD = LEGEND[0][0]


def _result(may_override: bool, label: str = "necrosis") -> RoiResult:
    probs = {"healthy": 0.02, "chlorosis": 0.02, "necrosis": 0.95, "wilting": 0.01}
    out = ModelOutput(label, 0.95, probs, 0.1, "v", "necrosis", 0.5, may_override)
    return RoiResult("B-1", (0, 0, 10, 10), True, (), {"stress_score": 0.5}, out)


def _zone_signals(result: RoiResult) -> dict[str, float]:
    quality = QualityReport(ok=True, flags=())
    colour = ColourReport("none", float("nan"))
    zone = [o for o in _observations(quality, colour, (result,)) if o.zone == "B-1"]
    return dict(zone[0].signals)


def test_probabilities_reach_the_rules_only_when_the_model_may_override() -> None:
    assert "p_necrosis" in _zone_signals(_result(True))
    assert "p_necrosis" not in _zone_signals(_result(False))
    assert "stress_score" in _zone_signals(_result(False))  # the colour signals still do


def test_the_model_alone_never_paints_a_zone_red() -> None:
    """Red means an open alert; a model that may override reaches red through the rules."""
    for may in (True, False):
        assert zone_colour(_result(may), alerted=False) != _BAD
        assert zone_colour(_result(may), alerted=True) == _BAD
