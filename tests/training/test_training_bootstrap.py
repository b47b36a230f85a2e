"""``train-bootstrap --quick``: files that load, a manifest that matches, the gates.

Slow (it trains): marked ``train`` and ``slow``. The quick recipe uses every 8th real photo,
one held-out crop (tomato) and two epochs, so its figures are not the shipped model's; what
is checked is the shape of the recipe: real held-out results recorded beside the colour
score, a colour gate that follows them, temperature and abstention in the manifest, and
INT8 refused when it disagrees with FP32 on the real photos.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

pytest.importorskip("torch")

import onnxruntime as ort

from cloudjobs.training import bootstrap, grounded
from cloudjobs.training import leaves as lv
from cloudjobs.training.data import Split
from cloudjobs.training.evaluate import int8_gate
from cloudjobs.training.realeval import beats_colour
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.session import StressModel
from fieldcontract.manifest import sha256_of

pytestmark = [
    pytest.mark.train, pytest.mark.slow,
    pytest.mark.skipif(not (lv.default_leaves_dir() / lv.LABELS).exists(),
                       reason="shared/data/real/leaves-pv is not beside the repository"),
]
Data = tuple[grounded.RealSet, dict[str, Split]]


@pytest.fixture(scope="module")
def quick_data() -> Data:
    """The --quick data sets, built once for the module's training runs."""
    args = bootstrap.parse_args(["--quick", "--out", "unused"])
    return bootstrap.build_data(args, bootstrap.QUICK)


@pytest.fixture(scope="module")
def cached_data(quick_data: Data) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bootstrap, "build_data", lambda args, sizes: quick_data)
        yield


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory: pytest.TempPathFactory, cached_data: None) -> Path:
    out = tmp_path_factory.mktemp("model")
    assert bootstrap.main(["--quick", "--out", str(out)]) == 0
    return out


def test_quick_run_writes_models_card_and_a_matching_manifest(quick_model: Path) -> None:
    manifest = json.loads((quick_model / "manifest.json").read_text())
    assert manifest["name"] == "stress"
    assert manifest["classes"] == ["healthy", "chlorosis", "necrosis", "wilting"]
    assert manifest["input_size"] == 64
    assert set(manifest["files"]) == {"fp32", "int8"}
    for entry in manifest["files"].values():
        data = (quick_model / entry["file"]).read_bytes()
        assert sha256_of(data) == entry["sha256"] and len(data) == entry["bytes"]
    assert manifest["temperature"] > 0
    assert manifest["abstain"]["ood_threshold"] > 0
    assert set(manifest["metrics"]["held_out_real"]) == {"fp32", "int8"}
    card = (quick_model / "MODEL_CARD.md").read_text()
    assert "CC BY-SA 3.0" in card and "No real wilting" in card
    assert (quick_model / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_the_colour_gate_follows_the_held_out_measurements(quick_model: Path) -> None:
    manifest = json.loads((quick_model / "manifest.json").read_text())
    loco = manifest["metrics"]["leave_one_crop_out"]
    assert set(loco) == {"tomato"}
    for m in loco.values():
        assert m["auc_model"] is not None and m["auc_colour"] is not None
    expected = all(beats_colour(m) for m in loco.values()) and beats_colour(
        manifest["metrics"]["held_out_real_torch"])
    assert manifest["overrides_colour_signals"] is expected


@pytest.mark.parametrize("name", ["stress.fp32.onnx", "stress.int8.onnx"])
def test_quick_models_run_in_onnxruntime_with_any_batch(quick_model: Path, name: str) -> None:
    session = ort.InferenceSession(str(quick_model / name), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["logits", "features"]
    for n in (1, 5):
        logits, feats = session.run(None, {"input": np.zeros((n, 3, 64, 64), np.float32)})
        assert logits.shape == (n, 4) and feats.shape[0] == n


def test_the_runtime_loads_the_quick_model(quick_model: Path) -> None:
    model = StressModel.load(ModelConfig(path=str(quick_model)))
    assert model.variant == "int8"
    (out,) = model.predict([np.zeros((100, 90, 3), np.uint8)])
    assert out.ood_score is not None


def test_broken_quantization_is_refused(tmp_path: Path, cached_data: None,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Calibrating on black crops gives activation ranges near zero: real crops saturate.
    real = bootstrap.quantize_int8

    def black(fp32: Path, out: Path, calib: np.ndarray, *, scheme: Literal["u8s8", "s8s8"],
              per_channel: bool) -> None:
        real(fp32, out, np.zeros_like(calib), scheme=scheme, per_channel=per_channel)

    monkeypatch.setattr(bootstrap, "quantize_int8", black)
    out = tmp_path / "refused"
    assert bootstrap.main(["--quick", "--out", str(out)]) == bootstrap.EXIT_REFUSED
    assert "INT8 model refused" in capsys.readouterr().err
    assert not out.exists()


def test_gate_margin() -> None:
    assert int8_gate(0.95, 0.94, 0.02) is None
    assert int8_gate(0.95, 0.93, 0.02) is None  # exactly at the margin passes
    message = int8_gate(0.95, 0.90, 0.02)
    assert message is not None and "0.0500 below" in message


def test_a_crop_shared_between_sets_is_caught(quick_data: Data) -> None:
    from cloudjobs.training.data import assert_disjoint

    synth = quick_data[1]
    train = synth["train"]
    leak = Split("held-out test", 0, train.x[:3].copy(), train.y[:3].copy())
    assert_disjoint(*synth.values())
    with pytest.raises(ValueError, match="share a crop"):
        assert_disjoint(train, leak)
