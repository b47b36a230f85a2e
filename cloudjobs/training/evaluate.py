"""Evaluate ONNX model files the way the device runs them: accuracy, recall, calibration
(expected calibration error), latency and size; ``compare_variants`` measures FP32 and INT8
on the same held-out rows with their latencies interleaved in one process.

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

from fieldagent.inference.session import open_session, softmax


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


def int8_gate(fp32_accuracy: float, int8_accuracy: float, max_drop: float,
              option: str = "--max-int8-drop") -> str | None:
    """None when INT8 keeps accuracy within ``max_drop`` of FP32, else the refusal message.

    ``option`` names the command-line flag that sets the margin, for the message.
    """
    drop = fp32_accuracy - int8_accuracy
    if drop <= max_drop + 1e-9:
        return None
    return (f"INT8 model refused: held-out accuracy {int8_accuracy:.4f} is {drop:.4f} below "
            f"FP32 {fp32_accuracy:.4f}, more than {option} {max_drop:.4f}; check the "
            "calibration data or quantize per-channel, or raise the margin knowingly")


def probabilities(session: ort.InferenceSession, x: npt.NDArray[np.float32],
                  batch: int = 64) -> npt.NDArray[np.float64]:
    """Softmax probabilities per row of ``x``, computed as the runtime does."""
    k = session.get_outputs()[0].shape[1]
    out = [softmax(session.run(None, {"input": x[i:i + batch]})[0])
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, k), np.float64)


def expected_calibration_error(probs: npt.NDArray[np.float64], y: npt.NDArray[np.int64],
                               bins: int = 10) -> float:
    """ECE: the |accuracy - confidence| gap per confidence bin, weighted by the bin's share.

    Bins are ``bins`` equal-width intervals of the top-class probability; the device flags
    outputs below a confidence margin as uncertain, so the confidences have to mean what they say.
    """
    if len(y) == 0:
        return 0.0
    confidence = probs.max(1)
    correct = probs.argmax(1) == y
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    gap = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return round(float(gap), 4)


def interleaved_latency_ms(sessions: dict[str, ort.InferenceSession],
                           x: npt.NDArray[np.float32], runs: int = 50) -> dict[str, float]:
    """Median ms per crop at batch 1 for each session, runs interleaved in one process.

    Alternating the variants (and their order) run by run spreads a noisy neighbour's load
    over all of them, so the ratio is fair even on a shared machine.
    """
    names = list(sessions)
    crops = [np.ascontiguousarray(x[i % len(x)][None]) for i in range(runs)]
    for name in names:
        for _ in range(3):
            sessions[name].run(None, {"input": crops[0]})
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, crop in enumerate(crops):
        for name in names if i % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            sessions[name].run(None, {"input": crop})
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(t) * 1000, 3) for name, t in times.items()}


def compare_variants(paths: dict[str, Path], x: npt.NDArray[np.float32],
                     y: npt.NDArray[np.int64], sources: npt.NDArray[np.str_],
                     classes: tuple[str, ...], runs: int = 50) -> dict[str, dict[str, Any]]:
    """Accuracy, recall, ECE, latency and size of each model file on the SAME held-out set.

    ``sources`` tags each row (uploaded, synthetic): accuracy is also reported per source,
    because generated crops can flatter a model that still struggles on real ones.
    """
    sessions = {name: session_for(path) for name, path in paths.items()}
    latency = interleaved_latency_ms(sessions, x, runs)
    metrics: dict[str, dict[str, Any]] = {}
    for name, session in sessions.items():
        probs = probabilities(session, x)
        pred = probs.argmax(1).astype(np.int64)
        m = classification_metrics(pred, y, classes)
        m["ece_10_bins"] = expected_calibration_error(probs, y)
        m["by_source"] = {
            str(s): {"accuracy": round(float((pred[sources == s] == y[sources == s]).mean()), 4),
                     "n": int((sources == s).sum())}
            for s in sorted(set(sources.tolist()))
        }
        m["latency_ms_batch1"] = latency[name]
        m["bytes"] = paths[name].stat().st_size
        metrics[name] = m
    return metrics
