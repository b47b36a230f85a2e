"""A missing, tampered or inconsistent model folder fails loudly, saying what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fieldagent.errors import FieldAgentError
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.errors import ModelError
from fieldagent.inference.preprocess import preprocess
from fieldagent.inference.session import StressModel, packaged_model_dir


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A private copy of the packaged model folder that a test may damage."""
    return Path(shutil.copytree(packaged_model_dir(), tmp_path / "stress"))


def load(folder: Path, **kw: object) -> StressModel:
    return StressModel.load(ModelConfig(path=str(folder), warmup_runs=0, **kw))


def test_a_copy_of_the_packaged_model_loads(model_dir: Path) -> None:
    assert load(model_dir).variant == "int8"


def test_tampered_file_is_refused(model_dir: Path) -> None:
    path = model_dir / "stress.int8.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError) as err:
        load(model_dir)
    message = str(err.value)
    assert "stress.int8.onnx" in message and "sha256" in message
    assert "train-bootstrap" in message
    assert isinstance(err.value, FieldAgentError)


def test_missing_file_is_refused(model_dir: Path) -> None:
    (model_dir / "stress.int8.onnx").unlink()
    with pytest.raises(ModelError, match=r"stress\.int8\.onnx: model file is missing"):
        load(model_dir)
    assert load(model_dir, variant="fp32").variant == "fp32"  # the other file is fine


def test_missing_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="manifest not found"):
        load(tmp_path)


def test_malformed_manifest_is_refused(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    del manifest["files"]
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="incomplete or malformed"):
        load(model_dir)
    (model_dir / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        load(model_dir)


def test_manifest_that_disagrees_with_the_model_is_refused(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["classes"] = ["healthy", "sick"]
    del manifest["abstain"]  # else the abstention's 4 class means give it away first
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="lists 2 classes"):
        load(model_dir)


def test_unknown_variant_is_refused(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    del manifest["files"]["fp32"]
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="variant 'fp32' is not in"):
        load(model_dir, variant="fp32")


def test_preprocess_shapes_and_range() -> None:
    crops = [np.full((90, 120, 3), 255, np.uint8), np.zeros((200, 180, 3), np.float32)]
    x = preprocess(crops)
    assert x.shape == (2, 3, 64, 64) and x.dtype == np.float32
    assert np.allclose(x[0], 1.0) and np.allclose(x[1], 0.0)
    assert preprocess([]).shape == (0, 3, 64, 64)


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((0, 5, 3), np.uint8),
                                 np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.int32)])
def test_preprocess_refuses_what_is_not_an_rgb_crop(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="crop 0"):
        preprocess([bad])
