"""Alert rules: raise once after the condition holds long enough, resolve once, never flood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from fieldagent.alerts import CAMERA_LEVEL, AlertEngine, AlertRule, AlertsConfig, Observation

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


def _rule(**kw: object) -> AlertRule:
    base: dict[str, object] = {
        "id": "yellow",
        "when": {"signal": "yellow_fraction", "op": ">", "value": 0.15},
        "for_images": 2,
    }
    base.update(kw)
    return AlertRule.model_validate(base)


def _feed(engine: AlertEngine, values: list[float], *, trusted: bool = True, zone: str = "B3"):
    out = []
    for i, v in enumerate(values):
        obs = Observation(zone, {"yellow_fraction": v}, frozenset(), trusted)
        out.append(engine.evaluate(T0 + timedelta(minutes=10 * i), [obs]))
    return out


def test_raises_after_consecutive_images_and_only_once() -> None:
    engine = AlertEngine([_rule()], site="s", camera="c")
    steps = _feed(engine, [0.1, 0.2, 0.3, 0.4, 0.5])
    raised = [i for i, s in enumerate(steps) if s]
    assert raised == [2], "second consecutive image over threshold raises; no repeats"
    alert = steps[2][0]
    assert alert.state == "raised" and alert.zone == "B3" and alert.why["value"] == 0.3
    assert "yellow_fraction" in alert.message and "B3" in alert.message


def test_interrupted_streak_does_not_raise() -> None:
    engine = AlertEngine([_rule()], site="s", camera="c")
    assert not any(_feed(engine, [0.2, 0.1, 0.2, 0.1, 0.2]))


def test_hysteresis_resolves_only_past_clear_value() -> None:
    engine = AlertEngine([_rule(clear_value=0.1, clear_images=2)], site="s", camera="c")
    steps = _feed(engine, [0.2, 0.2, 0.12, 0.12, 0.05, 0.05, 0.05])
    states = [(i, a.state) for i, s in enumerate(steps) for a in s]
    assert states == [(1, "raised"), (5, "resolved")]
    assert steps[5][0].key == steps[1][0].key, "raise and resolve share the episode key"


def test_untrusted_images_neither_count_nor_clear() -> None:
    engine = AlertEngine([_rule()], site="s", camera="c")
    assert not any(_feed(engine, [0.5, 0.5, 0.5], trusted=False))


def test_for_minutes_requires_duration() -> None:
    engine = AlertEngine([_rule(for_images=1, for_minutes=25)], site="s", camera="c")
    steps = _feed(engine, [0.3, 0.3, 0.3, 0.3])  # 10 min apart
    assert [i for i, s in enumerate(steps) if s] == [3]


def test_cooldown_suppresses_a_quick_second_raise() -> None:
    engine = AlertEngine([_rule(for_images=1, cooldown_minutes=60)], site="s", camera="c")
    steps = _feed(engine, [0.3, 0.0, 0.3, 0.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    raised = [i for i, s in enumerate(steps) for a in s if a.state == "raised"]
    assert raised[0] == 0 and all(i * 10 >= 60 for i in raised[1:]) and len(raised) == 2


def test_flag_rule_on_camera_quality() -> None:
    rule = AlertRule.model_validate({"id": "fog", "when": {"flag": "fog"}, "for_images": 2})
    engine = AlertEngine([rule], site="s", camera="cam2")
    seq = [{"fog"}, {"fog"}, {"fog"}, set(), set()]
    out = [
        engine.evaluate(
            T0 + timedelta(minutes=i), [Observation(CAMERA_LEVEL, {}, frozenset(f), False)]
        )
        for i, f in enumerate(seq)
    ]
    assert [a.state for s in out for a in s] == ["raised", "resolved"]
    assert "camera cam2" in out[1][0].message


def test_rule_scoped_to_cameras_and_zones() -> None:
    rule = _rule(cameras=["cam1"], zones=["B*"], for_images=1)
    assert (
        AlertEngine([rule], site="s", camera="cam2").evaluate(
            T0, [Observation("B1", {"yellow_fraction": 0.9}, frozenset(), True)]
        )
        == []
    )
    eng = AlertEngine([rule], site="s", camera="cam1")
    assert eng.evaluate(T0, [Observation("A1", {"yellow_fraction": 0.9}, frozenset(), True)]) == []
    assert (
        len(eng.evaluate(T0, [Observation("B1", {"yellow_fraction": 0.9}, frozenset(), True)])) == 1
    )


def test_state_survives_a_restart() -> None:
    engine = AlertEngine([_rule()], site="s", camera="c")
    _feed(engine, [0.3, 0.3])
    again = AlertEngine([_rule()], site="s", camera="c")
    again.restore(engine.state())
    assert again.active() == [("yellow", "B3")]
    assert not any(_feed(again, [0.3, 0.3])), "a restart does not re-raise an open alert"


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"id": "x", "when": {"signal": "gcc"}}, "needs a 'value'"),
        ({"id": "x", "when": {"signal": "gcc", "flag": "fog", "value": 1}}, "exactly one"),
        ({"id": "x y", "when": {"flag": "fog"}}, "must be letters"),
        (
            {"id": "x", "when": {"signal": "gcc", "op": ">", "value": 0.3}, "clear_value": 0.4},
            "healthy side",
        ),
        ({"id": "x", "when": {"flag": "fog"}, "for_images": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        AlertRule.model_validate(rule)
    assert needle in str(err.value)


def test_duplicate_rule_ids_are_refused() -> None:
    r = {"id": "a", "when": {"flag": "fog"}}
    with pytest.raises(ValidationError, match="used twice"):
        AlertsConfig.model_validate({"rules": [r, r]})
