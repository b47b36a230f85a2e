"""Evaluation of both variants on one held-out set: calibration error, interleaved latency."""

from __future__ import annotations

import numpy as np
import pytest

from cloudjobs.training.evaluate import (
    compare_variants,
    expected_calibration_error,
    int8_gate,
    interleaved_latency_ms,
    session_for,
)
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.preprocess import preprocess
from fieldagent.inference.session import packaged_model_dir
from fieldagent.synth import MODEL_CLASSES, labelled_crops


def one_hot_probs(top: list[int], confidence: float, k: int = 4) -> np.ndarray:
    probs = np.full((len(top), k), (1 - confidence) / (k - 1))
    probs[np.arange(len(top)), top] = confidence
    return probs


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    y = np.array([0, 1, 2, 3])
    assert expected_calibration_error(one_hot_probs([0, 1, 2, 3], 1.0), y) == 0.0
    # 75 % sure and right 3 times out of 4: calibrated
    assert expected_calibration_error(one_hot_probs([0, 1, 2, 0], 0.75), y) == pytest.approx(0)


def test_ece_measures_overconfidence() -> None:
    y = np.array([0, 1, 2, 3] * 5)
    right_half = [0, 1, 0, 0] * 5  # half right
    sure = expected_calibration_error(one_hot_probs(right_half, 0.95), y)
    assert sure == pytest.approx(0.45)
    less_sure = expected_calibration_error(one_hot_probs(right_half, 0.6), y)
    assert less_sure < sure


def test_ece_weights_bins_by_their_share() -> None:
    y = np.array([0] * 8)
    probs = np.vstack([one_hot_probs([0] * 6, 0.95), one_hot_probs([1] * 2, 0.35)])
    # bin 0.9-1.0: 6 right at 0.95 -> gap 0.05; bin 0.3-0.4: 2 wrong at 0.35 -> gap 0.35
    assert expected_calibration_error(probs, y) == pytest.approx(6 / 8 * 0.05 + 2 / 8 * 0.35)


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    crops, labels = labelled_crops(24, seed=4242)
    return preprocess(crops), np.asarray(labels, np.int64)


def test_both_variants_are_measured_on_the_same_rows(
        held_out: tuple[np.ndarray, np.ndarray]) -> None:
    folder = packaged_model_dir()
    files = {v: folder / e.file for v, e in read_manifest(folder).files.items()}
    x, y = held_out
    sources = np.array(["uploaded"] * 8 + ["synthetic"] * 16)
    metrics = compare_variants(files, x, y, sources, MODEL_CLASSES, runs=6)
    assert set(metrics) == {"fp32", "int8"}
    for variant, m in metrics.items():
        assert m["n"] == 24 and np.sum(m["confusion"]) == 24
        assert m["by_source"]["uploaded"]["n"] == 8 and m["by_source"]["synthetic"]["n"] == 16
        assert 0.0 <= m["ece_10_bins"] <= 1.0
        assert m["latency_ms_batch1"] > 0 and m["bytes"] == files[variant].stat().st_size
        share = (8 * m["by_source"]["uploaded"]["accuracy"]
                 + 16 * m["by_source"]["synthetic"]["accuracy"]) / 24
        assert share == pytest.approx(m["accuracy"], abs=1e-3)
    assert metrics["int8"]["bytes"] < metrics["fp32"]["bytes"]


def test_interleaved_latency_times_every_session_every_run(
        held_out: tuple[np.ndarray, np.ndarray]) -> None:
    folder = packaged_model_dir()
    entry = read_manifest(folder).files["int8"]
    sessions = {"a": session_for(folder / entry.file), "b": session_for(folder / entry.file)}
    latency = interleaved_latency_ms(sessions, held_out[0], runs=8)
    assert set(latency) == {"a", "b"} and all(v > 0 for v in latency.values())


def test_the_gate_names_the_option_that_sets_the_margin() -> None:
    message = int8_gate(0.90, 0.80, 0.02, "--int8-margin")
    assert message is not None and "--int8-margin 0.0200" in message
    assert int8_gate(0.90, 0.89, 0.02, "--int8-margin") is None
