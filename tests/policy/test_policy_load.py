"""Policies: the shipped ones load; bad ones are refused as file: key.path: value: reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from fieldagent.errors import ConfigError
from fieldagent.policy import builtin_names, check_policy, load_policy, policy_check_main
from fieldagent.policy.checks import CHECKS
from fieldagent.policy.model import Policy
from fieldagent.policy.units import parse_duration, parse_rate, parse_size, parse_window

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(?P<file>[^:]+): (?P<key>[^:]+): (?P<value>.+?): (?P<what>.+)$")


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    return err.value.problems


def _only(tmp_path: Path, text: str) -> re.Match[str]:
    problems = _problems(tmp_path, text)
    assert len(problems) == 1, problems
    m = LINE.match(problems[0])
    assert m, problems[0]
    assert m["file"] == str(tmp_path / "policy.yaml")
    return m


@pytest.mark.parametrize("name", ["default", "metered-cellular", "signals-only"])
def test_shipped_policies_load_by_name_and_path(name: str) -> None:
    by_name = load_policy(name)
    assert by_name.name == name
    assert load_policy(ROOT / "policies" / f"{name}.yaml") == by_name


def test_builtins_are_the_repository_policies() -> None:
    """One copy: the package's builtin folder is the repository's policies/ folder."""
    assert builtin_names() == sorted(p.stem for p in (ROOT / "policies").glob("*.yaml"))


def test_shipped_policies_differ_where_it_matters() -> None:
    default, metered, signals = (load_policy(n) for n in builtin_names())
    assert default.link.daily_budget is None and metered.link.daily_budget == 30_000_000
    assert metered.sampling.mode == "thumbnail" and default.sampling.mode == "crop"
    assert default.sampling.frame_max_side == 1600
    assert default.sampling.daily_reference.mode == "frame"
    assert not signals.classes.image.upload and signals.sampling.random_share == 0
    assert default.classes.image.windows == ["20:00-07:00"]


def test_empty_file_is_the_default_schema(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("")
    assert load_policy(path) == Policy()


def test_partial_class_keeps_that_kinds_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("classes:\n  image: {windows: ['22:00-06:00']}\n")
    image = load_policy(path).classes.image
    assert image.priority == 4 and image.when_full == "thin" and image.windows == ["22:00-06:00"]


def test_units_are_parsed(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("link: {total_max_bytes: 2GiB, rate: 2Mbit/s, horizon: 12h}\n"
                    "classes: {image: {max_bytes: 1.5GB, retention: 3d, rate: 20KB/s}}\n")
    p = load_policy(path)
    assert p.link.total_max_bytes == 2 * 1024**3 and p.link.rate == 250_000
    assert p.link.horizon == 43_200 and p.classes.image.retention == 3 * 86_400
    assert p.classes.image.max_bytes == 1_500_000_000 and p.classes.image.rate == 20_000


def test_relative_path_is_taken_from_the_given_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    assert load_policy("mine.yaml", relative_to=tmp_path).name == "mine"


def test_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(ConfigError) as err:
        load_policy("nonexistent")
    assert "default" in err.value.problems[0] and "metered-cellular" in err.value.problems[0]


def test_unknown_key(tmp_path: Path) -> None:
    m = _only(tmp_path, "classes:\n  images: {priority: 3}\n")
    assert m["key"] == "classes.images" and "unknown key" in m["what"]


@pytest.mark.parametrize(("text", "key", "fragment"), [
    ("link: {total_max_bytes: 5Mb}", "link.total_max_bytes", "'b' means bits"),
    ("link: {total_max_bytes: lots}", "link.total_max_bytes", "not a size"),
    ("link: {daily_budget: 10KB}", "link.daily_budget", "between 100KB and 10TB"),
    ("link: {rate: 20KB}", "link.rate", "not a rate"),
    ("link: {horizon: 30}", "link.horizon", "unit"),
    ("classes: {image: {windows: ['25:00-06:00']}}", "classes.image.windows[0]", "not a time"),
    ("classes: {image: {windows: ['22:00']}}", "classes.image.windows[0]", "HH:MM-HH:MM"),
    ("classes: {image: {windows: ['06:00-06:00']}}", "classes.image.windows[0]", "empty"),
    ("sampling: {daily_reference: {at: '12.00'}}", "sampling.daily_reference.at", "HH:MM"),
    ("degrade: {ladder: [{step: lower_jpeg_quality, quality: 5}]}",
     "degrade.ladder[0].quality", "20"),
    ("degrade: {ladder: [faster]}", "degrade.ladder[0]", "lower_sampling"),
])
def test_bad_values(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    m = _only(tmp_path, text + "\n")
    assert m["key"] == key and fragment in m["what"], m.group(0)


CROSS = [
    ("alerts_most_urgent", "classes: {alert: {priority: 2}}", "classes.alert.priority",
     "most urgent"),
    ("alerts_always_upload", "classes: {alert: {upload: false}}", "classes.alert.upload",
     "always be uploaded"),
    ("alerts_never_evicted", "classes: {alert: {when_full: drop_oldest}}",
     "classes.alert.when_full", "reject_new"),
    ("alerts_budget_exempt", "classes: {alert: {budget_exempt: false}}",
     "classes.alert.budget_exempt", "always go"),
    ("alerts_no_windows", "classes: {alert: {windows: ['22:00-06:00']}}",
     "classes.alert.windows", "any time"),
    ("alert_cap_floor", "classes: {alert: {max_bytes: 500KB}}", "classes.alert.max_bytes",
     "1.0 MB"),
    ("class_caps_within_total", "link: {total_max_bytes: 1GB}\nclasses: {image: {max_bytes: 2GB}}",
     "classes.image.max_bytes", "total_max_bytes"),
    ("budget_shares_need_budget", "classes: {image: {budget_share: 0.5}}",
     "classes.image.budget_share", "daily_budget"),
    ("ramp_needs_rate", "link: {ramp: {start_fraction: 0.2}}", "link.ramp", "link.rate"),
    ("retention_outlasts_horizon", "classes: {signals: {retention: 6h}}",
     "classes.signals.retention", "horizon"),
    ("batch_fits_signals_cap", "classes: {signals: {max_bytes: 100KB}}", "batching.max_bytes",
     "signals.max_bytes"),
    ("quotas_consistent", "sampling: {quota_per_hour: 2, quota_per_day: 100}",
     "sampling.quota_per_day", "never be reached"),
    ("uncertain_has_threshold",
     "sampling: {uncertain: {top_prob_below: null, entropy_above: null}}",
     "sampling.uncertain", "neither"),
    ("ladder_steps_unique", "degrade: {ladder: [essential_only, essential_only]}",
     "degrade.ladder[1]", "already on the ladder"),
    ("ladder_gets_stricter", "degrade: {ladder: [thumbnails, crops_only]}", "degrade.ladder[1]",
     "saves nothing"),
]


@pytest.mark.parametrize(("check", "text", "key", "fragment"), CROSS, ids=[c[0] for c in CROSS])
def test_cross_field_rule_refuses(tmp_path: Path, check: str, text: str, key: str,
                                  fragment: str) -> None:
    m = _only(tmp_path, text + "\n")
    assert m["key"] == key and fragment in m["what"], m.group(0)


def test_every_cross_field_rule_has_a_failing_case() -> None:
    assert {c.__name__ for c in CHECKS} == {c[0] for c in CROSS}


def test_jpeg_step_must_lower_the_quality(tmp_path: Path) -> None:
    m = _only(tmp_path, "degrade: {ladder: [{step: lower_jpeg_quality, quality: 90}]}\n")
    assert m["key"] == "degrade.ladder[0].quality" and "below" in m["what"]


def test_all_cross_field_problems_reported_at_once(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "classes: {alert: {priority: 7, upload: false}}\n"
                                   "link: {ramp: {over: 1m}}\n")
    keys = {LINE.match(p)["key"] for p in problems if LINE.match(p)}  # type: ignore[index]
    assert keys == {"classes.alert.priority", "classes.alert.upload", "link.ramp"}


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model not in seen:
        seen.add(model)
        for field in model.model_fields.values():
            for t in _leaves(field.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    _models(t, seen)


def _leaves(annotation: Any) -> list[Any]:
    args = get_args(annotation)
    out: list[Any] = [annotation] if not args or get_origin(annotation) is None else []
    for a in args:
        out.extend(_leaves(a))
    return out


def test_every_field_is_described_and_numbers_are_bounded() -> None:
    seen: set[type[BaseModel]] = set()
    _models(Policy, seen)
    assert len(seen) >= 12
    missing = [f"{m.__name__}.{n}" for m in seen for n, f in m.model_fields.items()
               if n != "step" and not f.description]
    unbounded = [f"{m.__name__}.{n}" for m in seen for n, f in m.model_fields.items()
                 if f.annotation in (int, float)
                 and not any(isinstance(x, Ge | Gt | Le | Lt) for x in f.metadata)
                 and not any(hasattr(x, "func") for x in f.metadata)]  # unit parsers bound
    assert not missing, missing
    assert not unbounded, unbounded


def test_policy_check_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("link: {rate: fast}\nclasses: {alert: {priority: 9}}\n")
    assert policy_check_main([str(ROOT / "policies" / "default.yaml"), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() and all(line.startswith(f"{bad}: ") for line in out.splitlines())
    assert "ok" in err
    assert policy_check_main(["default", "signals-only"]) == 0
    assert check_policy("metered-cellular") == []


def test_units_round_trip_examples() -> None:
    assert parse_size("2GiB") == 2 * 1024**3 and parse_size(0) == 0
    assert parse_rate("1MB/s") == 1e6 and parse_rate("8kbit/s") == 1000
    assert parse_duration("90s") == 90 and parse_duration("2w") == 14 * 86_400
    assert parse_window("22:00-06:00") == (1320, 360) and parse_window("00:00-24:00") == (0, 1440)
    for bad in ("", "1.5", True, "10 Mb"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_outbox_limits_follow_the_policy() -> None:
    model = pytest.importorskip("fieldagent.outbox.model")
    limits = load_policy("metered-cellular").outbox_limits()
    assert isinstance(limits, model.Limits) and limits.total_bytes == 1_000_000_000
    assert limits.per_kind["image"] == model.ClassLimits(300_000_000, "thin", 2)
    assert limits.per_kind["alert"].when_full == "reject_new"


def test_a_removed_key_with_its_old_harmless_value_is_ignored_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every policy written before the contract had ``schema_version: 1``: an upgraded agent
    must still start, and say the line is gone."""
    path = tmp_path / "policy.yaml"
    path.write_text("batching:\n  max_age: 5m\n  schema_version: 1\n")
    with caplog.at_level("WARNING", logger="fieldagent.policy.removed"):
        policy = load_policy(path)
    assert policy.batching.max_age == 300
    (warning,) = caplog.messages
    assert warning.startswith(f"{path}: batching.schema_version: 1: this key is gone")
    assert "delete the line" in warning and "(line 3)" in warning


def test_a_removed_key_with_another_value_is_refused(tmp_path: Path) -> None:
    """``schema_version: 2`` never worked (the cloud rejected every batch while the device
    reported success): refusing it at start is the honest answer."""
    m = _only(tmp_path, "batching:\n  schema_version: 2\n")
    assert (m["key"], m["value"]) == ("batching.schema_version", "2")
    assert "this key is gone" in m["what"] and "delete the line" in m["what"]
