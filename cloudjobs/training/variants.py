"""FP32 and INT8 ONNX files judged on the same real held-out photos, as the agent runs them.

Each file runs in a session opened like the agent's; logits are divided by the fitted
temperature and the features scored by the abstention, exactly as ``StressModel`` does.
INT8 must agree with FP32 photo by photo, not only on average. No torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cloudjobs.training.evaluate import interleaved_latency_ms, session_for
from cloudjobs.training.realeval import abstains, real_metrics
from fieldagent.inference.abstain import Abstention
from fieldagent.inference.session import softmax
from fieldagent.synth import MODEL_CLASSES


class RealPhotos(Protocol):
    """What is needed of the real set (``grounded.RealSet``) without importing torch."""

    @property
    def x(self) -> npt.NDArray[np.float32]: ...
    @property
    def y(self) -> npt.NDArray[np.int64]: ...
    @property
    def colour(self) -> npt.NDArray[np.float64]: ...


def run_onnx(path: Path, x: npt.NDArray[np.float32],
             batch: int = 64) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Logits and features of ``x`` from the ONNX file at ``path``."""
    session = session_for(path)
    logits, feats = [], []
    for i in range(0, len(x), batch):
        out = session.run(["logits", "features"], {"input": x[i:i + batch]})
        logits.append(out[0])
        feats.append(out[1])
    return (np.concatenate(logits).astype(np.float64), np.concatenate(feats).astype(np.float64))


def compare_on_real(paths: dict[str, Path], real: RealPhotos, idx: npt.NDArray[np.int64],
                    temperature: float, ab: Abstention) -> dict[str, Any]:
    """Per variant: the real-photo metrics, latency, size; INT8 also its agreement with FP32."""
    x, y, colour = real.x[idx], real.y[idx], real.colour[idx]
    latency = interleaved_latency_ms({k: session_for(p) for k, p in paths.items()}, x)
    out: dict[str, Any] = {}
    picks: dict[str, npt.NDArray[np.int64]] = {}
    unknown: dict[str, npt.NDArray[np.bool_]] = {}
    for name, path in paths.items():
        logits, feats = run_onnx(path, x)
        ood = ab.scores(feats)
        m = real_metrics(logits, ood, y, colour, MODEL_CLASSES, temperature, ab)
        probs = softmax(logits / temperature)
        picks[name], unknown[name] = probs.argmax(1), abstains(probs, ood, ab)
        m["latency_ms_batch1"] = latency[name]
        m["bytes"] = path.stat().st_size
        out[name] = m
    if "fp32" in picks:
        for name in picks:
            if name != "fp32":
                out[name]["agreement_with_fp32"] = round(
                    float((picks[name] == picks["fp32"]).mean()), 4)
                out[name]["same_abstention_as_fp32"] = round(
                    float((unknown[name] == unknown["fp32"]).mean()), 4)
    return out
