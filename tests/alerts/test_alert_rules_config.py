"""Alert rules cannot vanish by accident: site rules add to the built-in ones, a site left
without any stress or camera-health rule is refused unless alerts are turned off in so many
words, and every name a rule uses must exist (with a "did you mean" for a typo)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fieldagent.alerts.config import default_rules
from fieldagent.alerts.explain import explain_rules
from fieldagent.alerts.names import CAMERA_FLAGS, REGION_FLAGS
from fieldagent.config.site import load_site_config
from fieldagent.errors import ConfigError

BUILTIN = [r.id for r in default_rules()]
SITE = {
    "site": {"id": "gh1"},
    "cameras": [
        {"id": "cam1", "zones": [{"kind": "grid", "id": "A", "box": [0, 0, 1, 1],
                                  "rows": 2, "cols": 3}]},
        {"id": "cam2", "zones": [{"kind": "rect", "id": "tray", "box": [0, 0, 1, 1]}]},
    ],
}


def _load(tmp_path: Path, alerts: dict) -> list[str]:
    """Active rule ids, or raise ConfigError."""
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({**SITE, "alerts": alerts}))
    return [r.id for r in load_site_config(path).alerts.active_rules]


def _refused(tmp_path: Path, alerts: dict) -> str:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, alerts)
    (problem,) = err.value.problems
    assert problem.startswith(str(tmp_path / "site.yaml") + ": alerts"), problem
    assert ": (top level):" not in problem
    return problem


RULE = {"id": "a-yellow", "zones": ["A-*"], "when": {"signal": "yellow_fraction",
                                                      "op": ">", "value": 0.08}}


def test_an_empty_rule_list_keeps_the_built_in_rules(tmp_path: Path) -> None:
    assert _load(tmp_path, {"rules": []}) == BUILTIN
    assert _load(tmp_path, {}) == BUILTIN


def test_site_rules_add_to_the_built_in_ones_and_replace_one_by_id(tmp_path: Path) -> None:
    assert _load(tmp_path, {"rules": [RULE]}) == [*BUILTIN, "a-yellow"]
    tuned = {**RULE, "id": "zone-yellowing"}
    active = _load(tmp_path, {"rules": [tuned]})
    assert sorted(active) == sorted(BUILTIN) and active[-1] == "zone-yellowing"
    assert _load(tmp_path, {"disable": ["camera-fogged"]}) == [
        r for r in BUILTIN if r != "camera-fogged"]


@pytest.mark.parametrize(("alerts", "missing"), [
    ({"replace_defaults": True, "rules": []}, "plant stress (a rule on a signal) or camera "
     "health"),
    ({"replace_defaults": True, "rules": [RULE]}, "camera health"),
    ({"replace_defaults": True, "rules": [{"id": "fog", "when": {"flag": "fog"}}]},
     "plant stress"),
    ({"disable": BUILTIN}, "plant stress"),
])
def test_a_site_without_stress_or_camera_health_alerts_is_refused(
    tmp_path: Path, alerts: dict, missing: str
) -> None:
    problem = _refused(tmp_path, alerts)
    assert f"no alert on {missing}" in problem and "enabled: false" in problem


def test_alerts_off_in_so_many_words_is_accepted_and_said(tmp_path: Path) -> None:
    assert _load(tmp_path, {"enabled": False}) == []
    site = load_site_config(tmp_path / "site.yaml")
    assert "ALERTS ARE OFF" in explain_rules(site)
    from fieldagent.service.status import collect, render

    screen = collect(tmp_path / "site.yaml", datetime(2026, 6, 1, tzinfo=UTC))
    assert screen["alerts_enabled"] is False and "ALERTS ARE OFF" in render(screen)


@pytest.mark.parametrize(("rule", "expected"), [
    ({"when": {"signal": "yelow_fraction", "op": ">", "value": 0.1}},
     "unknown signal 'yelow_fraction'; did you mean 'yellow_fraction'?"),
    ({"when": {"flag": "fgo"}}, "unknown flag 'fgo'; did you mean 'fog'?"),
    ({"when": {"flag": "fog"}, "cameras": ["cam7"]}, "unknown camera 'cam7'; did you mean"),
    ({"when": {"flag": "fog"}, "cameras": ["cam2"], "zones": ["A-*"]},
     "zones[0]: 'A-*': no zone of camera(s) cam2 matches it"),
    ({"when": {"flag": "fog"}, "zones": ["B-*"]}, "'B-*': no zone of camera(s) cam1, cam2"),
    ({"when": {"flag": "fog"}, "zones": ["tary"]}, "did you mean 'tray'?"),
])
def test_a_rule_naming_what_does_not_exist_is_refused(
    tmp_path: Path, rule: dict, expected: str
) -> None:
    problem = _refused(tmp_path, {"rules": [{"id": "typo", **rule}]})
    assert expected in problem, problem


def test_a_misspelled_disable_is_refused(tmp_path: Path) -> None:
    assert "did you mean 'camera-fogged'?" in _refused(tmp_path, {"disable": ["camera-foged"]})


def test_a_rule_on_the_models_probabilities_and_a_zone_glob_is_accepted(
    tmp_path: Path,
) -> None:
    rule = {"id": "p", "zones": ["A-r1*", "tray"],
            "when": {"signal": "p_healthy", "op": "<", "value": 0.2}}
    assert _load(tmp_path, {"rules": [rule]})[-1] == "p"


def test_the_flag_names_are_the_ones_the_code_raises() -> None:
    from fieldagent.colour import correct
    from fieldagent.roi import extract
    from fieldagent.signals import baseline, light

    raised = {v for m in (extract, baseline, light) for k, v in vars(m).items()
              if k.startswith("FLAG_") and isinstance(v, str)}
    assert raised == set(REGION_FLAGS)
    assert {v for k, v in vars(correct).items() if k.startswith("FLAG_")} == set(CAMERA_FLAGS)


def test_explain_lists_each_cameras_rules_and_their_origin(tmp_path: Path) -> None:
    _load(tmp_path, {"rules": [{**RULE, "cameras": ["cam1"]}]})
    text = explain_rules(load_site_config(tmp_path / "site.yaml"))
    cam1, cam2 = text.split("camera cam2")
    assert "a-yellow" in cam1 and "a-yellow" not in cam2
    assert cam1.count("built-in") == len(BUILTIN) and "site;" in cam1
    assert "zones A-r1c1, A-r1c2" in cam1 and "the whole camera" in cam2
