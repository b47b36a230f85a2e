"""Evaluate an ONNX model file the way the device runs it: accuracy, recall, latency, size.

Sessions are opened with the edge runtime's own options (``open_session``: explicit threads,
full graph optimisation), so the latencies here are the ones the agent will see.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from fieldagent.inference.session import open_session


def session_for(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session over the file at ``path``, configured like the agent's."""
    return open_session(path.read_bytes(), path, threads)


def predict_labels(session: ort.InferenceSession, x: npt.NDArray[np.float32],
                   batch: int = 64) -> npt.NDArray[np.int64]:
    """Top-1 class index per row of ``x``."""
    out = [session.run(None, {"input": x[i:i + batch]})[0].argmax(1)
           for i in range(0, len(x), batch)]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def classification_metrics(pred: npt.NDArray[np.int64], y: npt.NDArray[np.int64],
                           classes: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, per-class recall and the confusion matrix (rows = truth, cols = predicted)."""
    k = len(classes)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    support = confusion.sum(1)
    recall = {c: round(float(confusion[i, i] / support[i]), 4) if support[i] else None
              for i, c in enumerate(classes)}
    return {
        "accuracy": round(float((pred == y).mean()), 4) if len(y) else 0.0,
        "recall": recall,
        "confusion": confusion.tolist(),
        "n": len(y),
    }


def latency_ms(session: ort.InferenceSession, x: npt.NDArray[np.float32], batch: int,
               runs: int = 50) -> float:
    """Median wall time (ms) of one ``run`` on a batch of ``batch`` crops, after a warm-up."""
    feed = {"input": np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])))}
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def evaluate(path: Path, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64],
             classes: tuple[str, ...], runs: int = 50) -> dict[str, Any]:
    """Everything the manifest reports about one model file on one held-out set."""
    session = session_for(path)
    metrics = classification_metrics(predict_labels(session, x), y, classes)
    metrics["latency_ms_batch1"] = latency_ms(session, x, 1, runs)
    metrics["latency_ms_batch12"] = latency_ms(session, x, 12, max(runs // 4, 5))
    metrics["bytes"] = path.stat().st_size
    return metrics


def int8_gate(fp32_accuracy: float, int8_accuracy: float, max_drop: float) -> str | None:
    """None when INT8 keeps accuracy within ``max_drop`` of FP32, else the refusal message."""
    drop = fp32_accuracy - int8_accuracy
    if drop <= max_drop + 1e-9:
        return None
    return (f"INT8 model refused: held-out accuracy {int8_accuracy:.4f} is {drop:.4f} below "
            f"FP32 {fp32_accuracy:.4f}, more than --max-int8-drop {max_drop:.4f}; check the "
            "calibration data or quantize per-channel, or raise the margin knowingly")
