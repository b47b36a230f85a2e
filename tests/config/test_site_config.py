"""Site config: typed, unknown keys refused, every problem reported as file: key: value: reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from fieldagent.config.site import SiteConfig, default_site_config, load_site_config
from fieldagent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(?P<file>[^:]+): (?P<key>[^:]+): (?P<value>.+?): (?P<what>.+)$")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.yaml"
    p.write_text(text)
    return p


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_site_config(_write(tmp_path, text))
    return err.value.problems


def test_defaults_are_valid() -> None:
    cfg = default_site_config()
    assert cfg.cameras[0].id == "cam1" and cfg.cameras[0].zones[0].id == "frame"


def test_example_config_is_valid() -> None:
    cfg = load_site_config(ROOT / "examples" / "site.yaml")
    assert [c.id for c in cfg.cameras] == ["cam1", "cam2"]


def test_empty_file_means_all_defaults(tmp_path: Path) -> None:
    assert load_site_config(_write(tmp_path, "")) == SiteConfig()


def test_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "analysis:\n  max_sid: 800\n")
    assert len(problems) == 1
    m = LINE.match(problems[0])
    assert m and m["key"] == "analysis.max_sid" and m["value"] == "800"
    assert "unknown key" in m["what"]


def test_out_of_range_names_key_value_and_bound(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "analysis:\n  max_side: 10\n")
    m = LINE.match(line)
    assert m and m["key"] == "analysis.max_side" and m["value"] == "10"
    assert "256" in m["what"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "site: {id: 'bad id!'}\n"
        "analysis: {max_side: 99999, colour: red}\n"
        "cameras:\n"
        "  - id: cam1\n"
        "    zones: [{kind: rect, id: a, box: [0.5, 0.1, 0.2, 0.9]}]\n"
        "  - {id: cam2, zones: [{kind: hexagon, id: z}]}\n"
    )
    problems = _problems(tmp_path, text)
    keys = [LINE.match(p)["key"] for p in problems if LINE.match(p)]  # type: ignore[index]
    assert len(keys) == len(problems) >= 5, problems
    assert any(k.startswith("cameras[0].zones[0]") for k in keys)
    assert any(k.startswith("cameras[1].zones[0]") for k in keys)
    assert "analysis.colour" in keys and "analysis.max_side" in keys and "site" in keys


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "cameras: [{id: a}, {id: a}]\n")
    assert "camera ids are used twice: a" in problems[0]
    grid = "{kind: grid, id: B, box: [0, 0, 1, 1], rows: 2, cols: 2}"
    rect = "{kind: rect, id: B-r1c1, box: [0, 0, 0.5, 0.5]}"
    problems = _problems(tmp_path, f"cameras: [{{id: a, zones: [{grid}, {rect}]}}]\n")
    assert "B-r1c1" in problems[0] and "twice" in problems[0]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "site:\n  id: [unclosed\n")
    assert "line" in line and "YAML syntax" in line


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "policy: a\npolicy: b\n")
    assert "appears twice" in line


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "- a\n- b\n")
    assert "expected a mapping" in line


def _sections(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for t in _leaf_types(field.annotation):
            if isinstance(t, type) and issubclass(t, BaseModel):
                _sections(t, seen)


def _leaf_types(annotation: Any) -> list[Any]:
    args = get_args(annotation)
    if not args:
        return [annotation]
    out: list[Any] = [] if get_origin(annotation) is not None else [annotation]
    for a in args:
        out.extend(_leaf_types(a))
    return out


def test_every_field_is_described_and_numbers_are_bounded() -> None:
    seen: set[type[BaseModel]] = set()
    _sections(SiteConfig, seen)
    assert len(seen) >= 10
    missing, unbounded = [], []
    for model in seen:
        for name, field in model.model_fields.items():
            if name == "kind":
                continue
            if not field.description:
                missing.append(f"{model.__name__}.{name}")
            if field.annotation in (int, float) and not any(
                isinstance(m, Ge | Gt | Le | Lt) for m in field.metadata
            ):
                unbounded.append(f"{model.__name__}.{name}")
    assert not missing, f"fields without description: {missing}"
    assert not unbounded, f"numeric fields without a range: {unbounded}"


def test_check_config_command(tmp_path: Path) -> None:
    good = ROOT / "examples" / "site.yaml"
    bad = _write(tmp_path, "analysis: {max_side: 1, nope: 2}\n")
    run = subprocess.run(
        [sys.executable, "-m", "fieldagent.cli", "check-config", "--file-only", str(good),
         str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}: analysis.") for line in lines)
    assert "ok" in run.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "fieldagent.cli", "check-config", "--file-only", str(good)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    here = subprocess.run(  # this machine has no /etc/fieldagent/secrets.yaml for cam2
        [sys.executable, "-m", "fieldagent.cli", "check-config", str(good)],
        capture_output=True, text=True)
    assert here.returncode == 1 and "secrets_file: '/etc/fieldagent/secrets.yaml'" in here.stdout


def test_a_bad_policy_is_refused_with_the_config(tmp_path: Path) -> None:
    policy = tmp_path / "tight.yaml"
    policy.write_text("version: 1\nclasses:\n  image: {max_bytes: 12 parsecs}\n")
    problems = _problems(tmp_path, f"policy: {policy.name}\n")
    assert problems[0].endswith("the policy has problems:") and "policy" in problems[0]
    assert problems[1].startswith(f"{policy}: classes.image.max_bytes: '12 parsecs':")


def test_an_unknown_policy_name_is_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "policy: no-such-policy\n")
    assert any("no-such-policy" in p for p in problems)


def test_policy_check_command(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\nlink: {rate: fast}\n")
    run = subprocess.run(
        [sys.executable, "-m", "fieldagent.cli", "policy", "check", "default", str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stdout.startswith(f"{bad}: link.rate: 'fast':")
    assert "default: ok" in run.stderr


def test_ids_must_be_usable_in_object_keys(tmp_path: Path) -> None:
    """Upper case or dots would be accepted here and refused at every upload."""
    (line,) = _problems(tmp_path, "site: {id: Greenhouse.12}\n")
    assert line.startswith(f"{tmp_path / 'site.yaml'}: site:") and "lower-case" in line
