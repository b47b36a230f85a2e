"""The release manifest: canonical bytes, versions, and what a manifest may not say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fieldcontract.manifest import (
    ManifestInvalid,
    ReleaseManifest,
    canonical_json,
    parse_manifest,
    parse_version,
)

T0 = datetime(2025, 5, 1, tzinfo=UTC)
SHA = "ab" * 32


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": 1, "name": "stress", "version": "0.2.0",
        "created_at": T0.isoformat(), "expires_at": (T0 + timedelta(days=1)).isoformat(),
        "artifacts": [{"file": "manifest.json", "key": "models/stress/0.2.0/manifest.json",
                       "size": 10, "sha256": SHA}],
        "golden": {"key": "models/stress/0.2.0/golden.npz", "size": 5, "sha256": SHA},
        "rollout": {"percent": 10, "salt": "0123456789abcdef"},
        "min_agent_version": None, "latency_budget_ms": 100,
    }
    doc.update(changes)
    return doc


def test_canonical_bytes_are_sorted_compact_and_stable() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) \
        == b'{"a":[1,{"c":3,"d":2}],"b":1}'
    manifest = ReleaseManifest.model_validate(_doc())
    raw = manifest.to_bytes()
    assert b" " not in raw and b"\n" not in raw
    again = parse_manifest(raw)
    assert again == manifest and again.to_bytes() == raw


def test_key_order_in_the_source_does_not_change_the_bytes() -> None:
    doc = _doc()
    reversed_doc = dict(reversed(list(doc.items())))
    assert ReleaseManifest.model_validate(reversed_doc).to_bytes() \
        == ReleaseManifest.model_validate(doc).to_bytes()


@pytest.mark.parametrize(("older", "newer"), [
    ("0.1.0", "0.2.0"), ("0.1.0+synth.a3a67ad9", "0.2.0"), ("0.1.0", "0.1.0+synth.a3a67ad9"),
    ("0.2.0rc1", "0.2.0"), ("0.9.0", "0.10.0"), ("1.0", "1.0.1"),
])
def test_versions_compare_as_pep440(older: str, newer: str) -> None:
    assert parse_version(older) < parse_version(newer)


def test_a_version_that_is_not_pep440_is_refused() -> None:
    with pytest.raises(ValueError, match="PEP 440"):
        parse_version("latest")
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(canonical_json(_doc(version="latest")))
    assert info.value.reason == "malformed" and "version" in str(info.value)


@pytest.mark.parametrize(("changes", "needle"), [
    ({"expires_at": T0.isoformat()}, "expires_at"),
    ({"created_at": "2025-05-01T00:00:00"}, "time zone"),
    ({"artifacts": [{"file": "x.onnx", "key": "k", "size": 1, "sha256": SHA}]}, "manifest.json"),
    ({"rollout": {"percent": 101, "salt": "0123456789abcdef"}}, "percent"),
    ({"golden": {"key": "k", "size": 1, "sha256": "XYZ"}}, "sha256"),
    ({"surprise": 1}, "surprise"),
    ({"artifacts": [{"file": "../manifest.json", "key": "k", "size": 1, "sha256": SHA}]},
     "file"),
])
def test_malformed_manifests_are_refused_with_the_field(changes: dict[str, Any],
                                                        needle: str) -> None:
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(canonical_json(_doc(**changes)))
    assert info.value.reason == "malformed"
    assert needle in str(info.value)


def test_another_schema_version_asks_for_an_agent_upgrade() -> None:
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(json.dumps(_doc(schema_version=2)).encode())
    assert info.value.reason == "unsupported_schema" and "upgrade" in str(info.value)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"[1, 2]", b"{"])
def test_bytes_that_are_no_json_object_are_malformed(raw: bytes) -> None:
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(raw)
    assert info.value.reason == "malformed"
