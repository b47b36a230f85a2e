"""Golden vectors: the same model passes, anything else is refused with a reason."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fieldagent.inference.config import ModelConfig
from fieldagent.inference.session import StressModel, packaged_model_dir
from fieldagent.modelupdate.errors import ManifestRejected
from fieldagent.modelupdate.golden import check_golden, make_golden


@pytest.fixture(scope="module")
def golden() -> bytes:
    return make_golden(packaged_model_dir(), count=8)


@pytest.fixture(scope="module")
def model() -> StressModel:
    return StressModel.load(ModelConfig(warmup_runs=0))


def _arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _npz(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def test_golden_vectors_are_deterministic_and_the_model_passes(
    golden: bytes, model: StressModel
) -> None:
    assert _arrays(make_golden(packaged_model_dir(), count=8))["inputs"].tobytes() \
        == _arrays(golden)["inputs"].tobytes()
    checked = check_golden(model, golden)
    assert checked.count == 8 and checked.max_abs_diff <= 1e-6
    fp32 = StressModel.load(ModelConfig(variant="fp32", warmup_runs=0))
    assert check_golden(fp32, golden).max_abs_diff <= 1e-6  # each variant has its own


def test_the_fp32_outputs_do_not_pass_for_int8_at_a_tight_tolerance(
    golden: bytes, model: StressModel
) -> None:
    arrays = _arrays(golden)
    arrays["expected_int8"] = arrays["expected_fp32"]
    arrays["tolerance"] = np.array(1e-4)
    with pytest.raises(ManifestRejected) as info:
        check_golden(model, _npz(**arrays))
    assert info.value.reason == "golden_mismatch" and "differ" in str(info.value)


@pytest.mark.parametrize("damage", ["no_variant", "other_classes", "bad_inputs", "garbage"])
def test_unusable_golden_files_are_refused(golden: bytes, model: StressModel,
                                          damage: str) -> None:
    arrays = _arrays(golden)
    if damage == "no_variant":
        del arrays["expected_int8"]
    elif damage == "other_classes":
        arrays["classes"] = np.array(["a", "b", "c", "d"])
    elif damage == "bad_inputs":
        arrays["inputs"] = arrays["inputs"][..., 0]
    data = b"not an npz" if damage == "garbage" else _npz(**arrays)
    with pytest.raises(ManifestRejected) as info:
        check_golden(model, data)
    assert info.value.reason == "golden_mismatch"


def test_a_model_folder_with_only_one_variant_gets_only_that_one(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(packaged_model_dir(), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["int8"]
    manifest["default_variant"] = "fp32"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    arrays = _arrays(make_golden(folder, count=4))
    assert "expected_fp32" in arrays and "expected_int8" not in arrays
