"""The packaged stress model: loads, gives valid outputs, and classifies unseen crops well."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fieldagent.inference.config import ModelConfig
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import ModelOutput, StressModel, packaged_model_dir
from fieldagent.synth import MODEL_CLASSES, labelled_crops

# Not one of the trainer's seeds (1101 train, 2202 validation, 3303 calibration, 4404 test).
UNSEEN_SEED = 5505
# The shipped model scores 0.69 here (top class, abstentions included); chance is 0.25.
# It used to score 0.98 when it was trained on synthetic crops only, and was at chance on
# real plants; trained mostly on real leaves it is judged on those (test_inference_real_
# leaves.py). 0.55 still fails any broken or untrained model clearly.
MIN_ACCURACY = 0.55


@pytest.fixture(scope="module")
def model() -> StressModel:
    return StressModel.load(ModelConfig())


@pytest.fixture(scope="module")
def unseen() -> tuple[list[np.ndarray], np.ndarray]:
    return labelled_crops(200, seed=UNSEEN_SEED)


def test_packaged_model_matches_the_contract(model: StressModel) -> None:
    manifest = read_manifest(packaged_model_dir())
    assert model.classes == MODEL_CLASSES == manifest.classes
    assert model.variant == "int8"  # auto picks INT8 when the manifest has it
    assert model.version == manifest.version
    assert model.version.startswith("0.1.1+real.")


def test_outputs_are_probability_vectors(model: StressModel, unseen: tuple) -> None:
    crops, _ = unseen
    outputs = model.predict(crops[:12])
    assert len(outputs) == 12
    for out in outputs:
        assert isinstance(out, ModelOutput)
        probs = list(out.probabilities.values())
        assert list(out.probabilities) == list(MODEL_CLASSES)
        assert math.isclose(sum(probs), 1.0, abs_tol=1e-6)
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert out.top_class == max(out.probabilities, key=out.probabilities.__getitem__)
        assert out.label in (out.top_class, "unknown")
        assert out.confidence == max(probs)
        assert 0.0 <= out.entropy <= 1.0
        assert out.to_dict()["label"] == out.label


def test_classifies_unseen_generated_crops(model: StressModel, unseen: tuple) -> None:
    crops, labels = unseen
    predicted = [MODEL_CLASSES.index(o.top_class) for o in model.predict(crops)]
    accuracy = float(np.mean(np.array(predicted) == labels))
    assert accuracy >= MIN_ACCURACY, f"accuracy {accuracy:.3f} on unseen crops"


def test_float_and_uint8_crops_give_the_same_answer(model: StressModel, unseen: tuple) -> None:
    crops, _ = unseen
    as_uint8 = model.predict(crops[:4])
    as_float = model.predict([c.astype(np.float32) / 255 for c in crops[:4]])
    assert [o.probabilities for o in as_uint8] == [o.probabilities for o in as_float]


def test_batching_does_not_change_results(model: StressModel, unseen: tuple) -> None:
    crops, _ = unseen
    together = model.predict(crops[:40])  # more than one internal batch
    alone = [model.predict([c])[0] for c in crops[:40]]
    for a, b in zip(together, alone, strict=True):
        assert a.label == b.label
        assert math.isclose(a.confidence, b.confidence, abs_tol=1e-4)


def test_empty_input_gives_empty_output(model: StressModel) -> None:
    assert model.predict([]) == []


def test_fp32_variant_agrees_with_int8(model: StressModel, unseen: tuple) -> None:
    fp32 = StressModel.load(ModelConfig(variant="fp32", warmup_runs=0))
    crops, _ = unseen
    assert fp32.variant == "fp32"
    same = [a.top_class == b.top_class
            for a, b in zip(fp32.predict(crops), model.predict(crops), strict=True)]
    assert np.mean(same) >= 0.95


def test_uniform_logits_have_entropy_one() -> None:
    from fieldagent.inference.session import normalised_entropy, softmax

    probs = softmax(np.zeros((1, 4)))[0]
    assert math.isclose(normalised_entropy(probs), 1.0)
    assert normalised_entropy(softmax(np.array([[100.0, 0, 0, 0]]))[0]) < 1e-6


def test_uncertain_uses_the_configured_margin(model: StressModel) -> None:
    sure = ModelOutput("healthy", 0.9, {}, 0.1, model.version)
    unsure = ModelOutput("healthy", 0.4, {}, 0.9, model.version)
    assert not model.is_uncertain(sure)
    assert model.is_uncertain(unsure)
