"""``train-bootstrap --quick``: files that load, a manifest that matches, and the INT8 gate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import onnxruntime as ort

from cloudjobs.training import bootstrap
from cloudjobs.training.data import Split
from cloudjobs.training.evaluate import int8_gate
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.manifest import sha256_of
from fieldagent.inference.session import StressModel

pytestmark = [pytest.mark.train, pytest.mark.slow]


@pytest.fixture(scope="module")
def quick_data() -> dict[str, Split]:
    """The --quick data sets, generated once for the module's two training runs."""
    return bootstrap.build_data(bootstrap.parse_args(["--quick", "--out", "unused"]))


@pytest.fixture(scope="module")
def cached_data(quick_data: dict[str, Split]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bootstrap, "build_data", lambda args: quick_data)
        yield


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory: pytest.TempPathFactory, cached_data: None) -> Path:
    out = tmp_path_factory.mktemp("model")
    assert bootstrap.main(["--quick", "--out", str(out)]) == 0
    return out


def test_quick_run_writes_both_models_and_a_matching_manifest(quick_model: Path) -> None:
    manifest = json.loads((quick_model / "manifest.json").read_text())
    assert manifest["name"] == "stress"
    assert manifest["classes"] == ["healthy", "chlorosis", "necrosis", "wilting"]
    assert manifest["input_size"] == 64
    assert set(manifest["files"]) == {"fp32", "int8"}
    for entry in manifest["files"].values():
        data = (quick_model / entry["file"]).read_bytes()
        assert sha256_of(data) == entry["sha256"] and len(data) == entry["bytes"]
    assert manifest["training"]["samples"]["train"] == bootstrap.QUICK.train
    assert set(manifest["metrics"]["held_out"]) == {"fp32", "int8"}


@pytest.mark.parametrize("name", ["stress.fp32.onnx", "stress.int8.onnx"])
def test_quick_models_run_in_onnxruntime_with_any_batch(quick_model: Path, name: str) -> None:
    session = ort.InferenceSession(str(quick_model / name), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    for n in (1, 5):
        logits = session.run(None, {"input": np.zeros((n, 3, 64, 64), np.float32)})[0]
        assert logits.shape == (n, 4)


def test_the_runtime_loads_the_quick_model(quick_model: Path) -> None:
    model = StressModel.load(ModelConfig(path=str(quick_model)))
    assert model.variant == "int8"
    assert len(model.predict([np.zeros((100, 90, 3), np.uint8)])) == 1


def test_broken_quantization_is_refused(tmp_path: Path, cached_data: None,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Calibrating on black crops gives activation ranges near zero: real crops saturate.
    monkeypatch.setattr(bootstrap, "calibration_inputs", lambda split: np.zeros_like(split.x))
    out = tmp_path / "refused"
    assert bootstrap.main(["--quick", "--out", str(out)]) == bootstrap.EXIT_REFUSED
    assert "INT8 model refused" in capsys.readouterr().err
    assert not out.exists()


def test_gate_margin() -> None:
    assert int8_gate(0.95, 0.94, 0.02) is None
    assert int8_gate(0.95, 0.93, 0.02) is None  # exactly at the margin passes
    message = int8_gate(0.95, 0.90, 0.02)
    assert message is not None and "0.0500 below" in message


def test_a_crop_shared_between_sets_is_caught(quick_data: dict[str, Split]) -> None:
    from cloudjobs.training.data import assert_disjoint

    train = quick_data["train"]
    leak = Split("held-out test", 0, train.x[:3].copy(), train.y[:3].copy())
    assert_disjoint(*quick_data.values())
    with pytest.raises(ValueError, match="share a crop"):
        assert_disjoint(train, leak)
