"""The packaged model abstains (``unknown``) on what is not a plant, applies its temperature,
and cannot override the colour signals unless its manifest allows it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from cloudjobs.training.probes import KINDS, non_plant_images
from fieldagent.inference.abstain import UNKNOWN, ood_scores
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.errors import ModelError
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.preprocess import preprocess
from fieldagent.inference.session import ModelOutput, StressModel, packaged_model_dir, softmax

# Seeds other than the trainer's probe seed (5505): images its report never saw.
PROBE_SEED = 8808
# What the model alone must call ``unknown`` (its features are far from every class).
# Noise, bare soil and text it does not reliably flag by itself: the agent never asks it
# about a region where its segmentation finds no plant, and through that path every kind
# is tested in tests/cli/test_cli_model_predict.py.
MODEL_MUST_ABSTAIN = ("colour_card", "wall")
MIN_ABSTAIN = 0.7


@pytest.fixture(scope="module")
def model() -> StressModel:
    return StressModel.load(ModelConfig())


def test_the_packaged_manifest_describes_abstention_and_calibration() -> None:
    manifest = read_manifest(packaged_model_dir())
    assert manifest.abstain is not None
    assert manifest.temperature > 0
    assert manifest.abstain.class_means.shape[0] == len(manifest.classes)
    assert "features" in manifest.abstain.features_output


@pytest.mark.parametrize("kind", MODEL_MUST_ABSTAIN)
def test_non_plant_images_are_unknown(model: StressModel, kind: str) -> None:
    images = [img for _, img in non_plant_images(10, seed=PROBE_SEED, kinds=(kind,))]
    labels = [o.label for o in model.predict(images)]
    share = labels.count(UNKNOWN) / len(labels)
    assert share >= MIN_ABSTAIN, f"{kind}: only {share:.0%} unknown ({labels})"


def test_non_plant_images_are_never_called_diseased_with_confidence(model: StressModel) -> None:
    images = [img for _, img in non_plant_images(6, seed=PROBE_SEED, kinds=KINDS)]
    for out in model.predict(images):
        assert not (out.label not in (UNKNOWN, "healthy") and out.confidence >= 0.9), out


def test_probabilities_are_the_softmax_of_logits_over_the_temperature(model: StressModel) -> None:
    folder = packaged_model_dir()
    manifest = read_manifest(folder)
    session = ort.InferenceSession(str(folder / manifest.files["int8"].file),
                                   providers=["CPUExecutionProvider"])
    crops = [img for _, img in non_plant_images(2, seed=PROBE_SEED)]
    logits = session.run(["logits"], {"input": preprocess(crops)})[0]
    expected = softmax(logits / manifest.temperature)
    got = np.array([list(o.probabilities.values()) for o in model.predict(crops)])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_ood_score_grows_with_distance_from_the_class_means() -> None:
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 8))
    white = np.eye(8)
    direction = rng.normal(size=8)
    scores = ood_scores(means[1] + np.outer([0.0, 1, 2, 4, 8], direction), means, white)
    assert scores[0] == pytest.approx(0.0)
    assert np.all(np.diff(scores) > 0)


def test_a_manifest_whose_abstention_does_not_fit_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(packaged_model_dir(), folder)
    raw = json.loads((folder / "manifest.json").read_text())
    raw["abstain"]["whitening"] = raw["abstain"]["whitening"][:-1]
    (folder / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="whitening"):
        read_manifest(folder)


def test_the_agent_follows_the_manifests_colour_gate(tmp_path: Path) -> None:
    """The same files with the gate flipped: only the flag decides whether it may override."""
    folder = tmp_path / "model"
    shutil.copytree(packaged_model_dir(), folder)
    raw = json.loads((folder / "manifest.json").read_text())
    for allowed in (False, True):
        raw["overrides_colour_signals"] = allowed
        (folder / "manifest.json").write_text(json.dumps(raw))
        m = StressModel.load(ModelConfig(path=str(folder), warmup_runs=0))
        assert m.overrides_colour_signals is allowed
        assert all(o.may_override is allowed for o in m.predict([np.zeros((40, 40, 3))]))


def test_says_stressed_needs_permission_a_stress_class_and_confidence() -> None:
    def out(label: str, confidence: float, may: bool) -> ModelOutput:
        return ModelOutput(label, confidence, {}, 0.1, "v", label, 1.0, may)

    assert out("necrosis", 0.95, True).says_stressed(0.6)
    assert not out("necrosis", 0.95, False).says_stressed(0.6)  # not allowed to override
    assert not out("necrosis", 0.5, True).says_stressed(0.6)
    assert not out("healthy", 0.95, True).says_stressed(0.6)
    assert not out(UNKNOWN, 0.95, True).says_stressed(0.6)


def test_a_manifest_whose_abstention_has_other_classes_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(packaged_model_dir(), folder)
    raw = json.loads((folder / "manifest.json").read_text())
    raw["abstain"]["class_means"] = raw["abstain"]["class_means"][:2]
    (folder / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="2 class means for 4 classes"):
        read_manifest(folder)
