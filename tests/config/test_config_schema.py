"""``fieldagent config schema``: a JSON Schema an editor can use, that agrees with the
loader on good and misspelled configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fieldagent.cli import main

jsonschema = pytest.importorskip("jsonschema")
REPO = Path(__file__).resolve().parents[2]


def _schema(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "schema.json"
    assert main(["config", "schema", *args, "-o", str(out)]) == 0
    return json.loads(out.read_text())


def test_the_site_schema_accepts_the_example_and_refuses_a_misspelled_key(
    tmp_path: Path,
) -> None:
    schema = _schema(tmp_path)
    validator = jsonschema.Draft202012Validator(schema)
    example = yaml.safe_load((REPO / "examples" / "site.yaml").read_text())
    assert list(validator.iter_errors(example)) == []
    example["cameras"][0]["source"]["setle_seconds"] = 3
    errors = list(validator.iter_errors(example))
    assert errors and any("setle_seconds" in e.message for e in errors)
    described = schema["$defs"]["InboxSource"]["properties"]["settle_seconds"]
    assert described.get("description")


def test_the_policy_schema_accepts_every_shipped_policy(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(_schema(tmp_path, "--policy"))
    for path in sorted((REPO / "policies").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        assert [e.message for e in validator.iter_errors(doc)] == [], path.name
