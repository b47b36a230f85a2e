"""``cloudjobs release``: immutable artifacts, a signed manifest, advance and halt."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudjobs.release import keys
from cloudjobs.release.publish import main, parse_duration
from fieldagent.modelupdate.signing import public_pem, trusted_keys, verify
from fieldcontract.manifest import (
    MANIFEST_KEY,
    SIGNATURE_KEY,
    ReleaseManifest,
    parse_manifest,
)
from tests.cloudjobs_release.conftest import ModelFactory


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    keys.create_keys(tmp_path / "keys")
    return tmp_path / "keys"


def _release(channel: Path, key_dir: Path, *args: str) -> int:
    return main([*args, "--channel", f"file://{channel}", "--key", str(key_dir)])


def _verified(channel: Path, key_dir: Path) -> ReleaseManifest:
    raw = (channel / MANIFEST_KEY).read_bytes()
    sig = (channel / SIGNATURE_KEY).read_bytes()
    verify(raw, sig, trusted_keys([keys.read_public_key(key_dir)]))
    return parse_manifest(raw)


def test_publish_uploads_the_model_and_signs_the_manifest(
    channel_dir: Path, key_dir: Path, make_model: ModelFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = make_model("0.2.0")
    assert _release(channel_dir, key_dir, "--model", str(model), "--percent", "10",
                    "--expires", "30d", "--min-agent-version", "0.1.0") == 0
    assert "stress 0.2.0 at 10%" in capsys.readouterr().out
    release = _verified(channel_dir, key_dir)
    assert (release.name, release.version, release.rollout.percent) == ("stress", "0.2.0", 10)
    assert release.min_agent_version == "0.1.0"
    assert release.expires_at - release.created_at == timedelta(days=30)
    assert sorted(a.file for a in release.artifacts) \
        == ["manifest.json", "stress.fp32.onnx", "stress.int8.onnx"]
    for artifact in release.artifacts:
        assert artifact.key == f"models/stress/0.2.0/{artifact.file}"
        data = (channel_dir / artifact.key).read_bytes()
        assert data == (model / artifact.file).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (artifact.size, artifact.sha256)
    golden = (channel_dir / release.golden.key).read_bytes()
    assert hashlib.sha256(golden).hexdigest() == release.golden.sha256
    with np.load(io.BytesIO(golden), allow_pickle=False) as npz:
        assert npz["inputs"].shape == (16, 64, 64, 3)
        assert npz["expected_int8"].shape == npz["expected_fp32"].shape == (16, 4)
        np.testing.assert_allclose(npz["expected_int8"].sum(axis=1), 1.0, atol=1e-6)


def test_advance_and_halt_re_sign_the_same_release_with_the_same_salt(
    channel_dir: Path, key_dir: Path, make_model: ModelFactory
) -> None:
    _release(channel_dir, key_dir, "--model", str(make_model("0.2.0")), "--percent", "5")
    first = _verified(channel_dir, key_dir)
    assert _release(channel_dir, key_dir, "--advance", "50") == 0
    advanced = _verified(channel_dir, key_dir)
    assert advanced.rollout.percent == 50 and advanced.rollout.salt == first.rollout.salt
    assert (advanced.version, advanced.artifacts, advanced.golden) \
        == (first.version, first.artifacts, first.golden)
    assert _release(channel_dir, key_dir, "--halt") == 0
    halted = _verified(channel_dir, key_dir)
    assert halted.rollout.percent == 0 and halted.rollout.salt == first.rollout.salt


def test_publishing_the_same_version_again_is_harmless_and_keeps_the_salt(
    channel_dir: Path, key_dir: Path, make_model: ModelFactory
) -> None:
    model = make_model("0.2.0")
    _release(channel_dir, key_dir, "--model", str(model), "--percent", "5")
    salt = _verified(channel_dir, key_dir).rollout.salt
    assert _release(channel_dir, key_dir, "--model", str(model), "--percent", "20") == 0
    again = _verified(channel_dir, key_dir)
    assert (again.rollout.percent, again.rollout.salt) == (20, salt)


def test_a_published_version_never_changes(
    channel_dir: Path, key_dir: Path, make_model: ModelFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = make_model("0.2.0")
    _release(channel_dir, key_dir, "--model", str(model))
    before = (channel_dir / "models/stress/0.2.0/manifest.json").read_bytes()
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["notes"] = "retrained, same version by mistake"
    (model / "manifest.json").write_text(json.dumps(manifest))
    assert _release(channel_dir, key_dir, "--model", str(model)) == 1
    assert "bump the model version" in capsys.readouterr().err
    assert (channel_dir / "models/stress/0.2.0/manifest.json").read_bytes() == before


def test_an_older_version_than_the_channel_carries_is_refused(
    channel_dir: Path, key_dir: Path, make_model: ModelFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _release(channel_dir, key_dir, "--model", str(make_model("0.3.0")))
    assert _release(channel_dir, key_dir, "--model", str(make_model("0.2.0"))) == 1
    assert "newer than 0.2.0" in capsys.readouterr().err
    assert _verified(channel_dir, key_dir).version == "0.3.0"


def test_golden_vectors_can_be_supplied(
    channel_dir: Path, key_dir: Path, make_model: ModelFactory, tmp_path: Path
) -> None:
    golden = tmp_path / "ref.npz"
    golden.write_bytes(b"reference outputs kept from training")
    _release(channel_dir, key_dir, "--model", str(make_model("0.2.0")), "--golden", str(golden))
    release = _verified(channel_dir, key_dir)
    assert (channel_dir / release.golden.key).read_bytes() == golden.read_bytes()


@pytest.mark.parametrize("args", [["--advance", "150"], ["--halt", "--expires", "soon"]])
def test_bad_input_exits_2(channel_dir: Path, key_dir: Path, make_model: ModelFactory,
                           args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _release(channel_dir, key_dir, "--model", str(make_model("0.2.0")))
    assert _release(channel_dir, key_dir, *args) == 2
    assert "error:" in capsys.readouterr().err


def test_advance_without_a_release_says_so(channel_dir: Path, key_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert _release(channel_dir, key_dir, "--advance", "20") == 1
    assert "no release yet" in capsys.readouterr().err


def test_a_wrong_key_file_is_refused(channel_dir: Path, tmp_path: Path,
                                     make_model: ModelFactory,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    public_only = tmp_path / "pub.pem"
    public_only.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    assert _release(channel_dir, public_only, "--model", str(make_model("0.2.0"))) == 2
    assert "private key" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("12h", 43200),
                                               ("30d", 2_592_000), ("1.5h", 5400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "10", "0d", "-1d", "1w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
