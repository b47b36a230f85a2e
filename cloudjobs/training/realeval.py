"""What a trained stress model does on real held-out photos, beside the colour-only score.

Everything is computed from arrays the caller already has (logits, OOD scores, labels, the
agent's yellow + brown fraction per photo), so torch folds and ONNX files are judged by the
same code. No torch here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from cloudjobs.training.calibration import auc, reliability
from cloudjobs.training.evaluate import expected_calibration_error
from fieldagent.inference.abstain import Abstention
from fieldagent.inference.session import softmax


def abstains(probs: npt.NDArray[np.float64], ood: npt.NDArray[np.float64],
             ab: Abstention) -> npt.NDArray[np.bool_]:
    """Which rows the agent would label ``unknown`` (same rule as ``StressModel``)."""
    out: npt.NDArray[np.bool_] = ~(ood <= ab.ood_threshold) | (probs.max(1) < ab.min_confidence)
    return out


def real_metrics(logits: npt.NDArray[np.float64], ood: npt.NDArray[np.float64],
                 y: npt.NDArray[np.int64], colour: npt.NDArray[np.float64],
                 classes: tuple[str, ...], temperature: float,
                 ab: Abstention) -> dict[str, Any]:
    """AUC (model vs colour), recall, ECE before/after temperature, abstention, on real photos.

    The model's stress score is ``1 - p(healthy)``; the colour score is yellow + brown
    fraction. Recall counts the softmax's top class (abstentions are reported separately).
    """
    raw, cal = softmax(logits), softmax(logits / temperature)
    diseased = y != 0
    pred = cal.argmax(1)
    unknown = abstains(cal, ood, ab)
    recall = {c: round(float((pred[y == k] == k).mean()), 4)
              for k, c in enumerate(classes) if np.any(y == k)}
    kept = ~unknown
    return {
        "n": len(y),
        "auc_model": auc(1.0 - cal[:, 0], diseased),
        "auc_colour": auc(colour, diseased),
        "recall": recall,
        "accuracy": round(float((pred == y).mean()), 4),
        "accuracy_when_answering": round(float((pred[kept] == y[kept]).mean()), 4)
        if kept.any() else None,
        "abstained": round(float(unknown.mean()), 4),
        "ece_raw": expected_calibration_error(raw, y),
        "ece_calibrated": expected_calibration_error(cal, y),
        "share_confidence_ge_0_9_raw": round(float((raw.max(1) >= 0.9).mean()), 4),
        "share_confidence_ge_0_9_calibrated": round(float((cal.max(1) >= 0.9).mean()), 4),
        "reliability_calibrated": reliability(cal, y),
    }


def beats_colour(metrics: dict[str, Any]) -> bool:
    """True when the model's AUC is at least the colour score's on these photos."""
    m, c = metrics.get("auc_model"), metrics.get("auc_colour")
    return m is not None and c is not None and m >= c


def probe_abstention(probs: npt.NDArray[np.float64], ood: npt.NDArray[np.float64],
                     kinds: list[str], ab: Abstention) -> dict[str, float]:
    """Share of non-plant inputs labelled ``unknown``, per kind and overall."""
    unknown = abstains(probs, ood, ab)
    k = np.asarray(kinds)
    out = {kind: round(float(unknown[k == kind].mean()), 4) for kind in sorted(set(kinds))}
    out["all"] = round(float(unknown.mean()), 4)
    return out
