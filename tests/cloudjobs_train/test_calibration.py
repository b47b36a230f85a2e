"""Temperature, AUC and reliability as properties on arrays (no torch, no model)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cloudjobs.training.calibration import auc, fit_temperature, nll, reliability
from cloudjobs.training.evaluate import expected_calibration_error
from fieldagent.inference.session import softmax


def _sampled(true_t: float, n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / true_t): T = true_t is right."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, (n, 4))
    p = softmax(logits / true_t)
    y = np.array([rng.choice(4, p=row) for row in p], np.int64)
    return logits, y


@pytest.mark.parametrize("true_t", [0.7, 1.0, 2.5])
def test_fitted_temperature_recovers_the_one_that_made_the_labels(true_t: float) -> None:
    logits, y = _sampled(true_t)
    assert fit_temperature(logits, y) == pytest.approx(true_t, rel=0.15)


def test_temperature_scaling_lowers_nll_and_ece_of_overconfident_logits() -> None:
    logits, y = _sampled(3.0)
    t = fit_temperature(logits, y)
    assert nll(logits, y, t) < nll(logits, y, 1.0)
    assert expected_calibration_error(softmax(logits / t), y) < \
        expected_calibration_error(softmax(logits), y)


def test_auc_matches_counting_all_pairs() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 6, 60).astype(float)  # many ties
    pos = rng.random(60) < 0.4
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0)
             for a, b in itertools.product(scores[pos], scores[~pos])]
    assert auc(scores, pos) == pytest.approx(np.mean(pairs), abs=1e-4)
    assert auc(-scores, pos) == pytest.approx(1 - np.mean(pairs), abs=1e-4)
    assert auc(scores, np.ones(60, bool)) is None


def test_reliability_bins_cover_every_row_once() -> None:
    logits, y = _sampled(1.0, n=500)
    rows = reliability(softmax(logits), y)
    assert sum(r["n"] for r in rows) == 500
    assert all(r["bin"][0] <= r["confidence"] <= r["bin"][1] for r in rows)
