"""Calibration and ranking measures on numpy arrays: temperature, reliability, AUC.

The runtime divides the logits by the manifest's temperature before the softmax, so a
confidence of 0.8 is right about 80 % of the time on data like the validation set. The
temperature is fitted on validation logits only (never the test photos) by minimising the
negative log-likelihood over a fine grid (one parameter; a grid cannot fail to converge).
No torch here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fieldagent.inference.session import softmax


def nll(logits: npt.NDArray[np.float64], y: npt.NDArray[np.int64], temperature: float) -> float:
    """Mean negative log-likelihood of the labels under softmax(logits / T)."""
    p = softmax(logits / temperature)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def fit_temperature(logits: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    """The T in [0.05, 20] that minimises validation NLL (log grid, then a finer one)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 161))
    best = min(grid, key=lambda t: nll(logits, y, float(t)))
    fine = np.linspace(best / 1.04, best * 1.04, 41)
    return round(float(min(fine, key=lambda t: nll(logits, y, float(t)))), 4)


def auc(scores: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_]) -> float | None:
    """ROC AUC (Mann-Whitney, ties counted half); None when one class is missing."""
    s, pos = np.asarray(scores, np.float64), np.asarray(positive, bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return round(float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)), 4)


def reliability(probs: npt.NDArray[np.float64], y: npt.NDArray[np.int64],
                bins: int = 10) -> list[dict[str, Any]]:
    """Per confidence bin: its range, count, mean confidence and accuracy (the diagram's data)."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == y
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    rows = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            rows.append({"bin": [round(b / bins, 2), round((b + 1) / bins, 2)],
                         "n": int(sel.sum()),
                         "confidence": round(float(confidence[sel].mean()), 4),
                         "accuracy": round(float(correct[sel].mean()), 4)})
    return rows
