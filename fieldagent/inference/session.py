"""One ONNX Runtime session for the stress model, loaded once, verified and warmed up.

The agent shares a couple of CPU cores with decoding and analysis, so the session uses an
explicit, small number of threads instead of ONNX Runtime's default of one per core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from fieldagent.inference.config import ModelConfig
from fieldagent.inference.errors import ModelError
from fieldagent.inference.manifest import Manifest, read_manifest, verified_bytes
from fieldagent.inference.preprocess import preprocess

MAX_BATCH = 32  # bounds the activation memory of one run; crops beyond this go in more runs


@dataclass(frozen=True)
class ModelOutput:
    """What the model said about one crop."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    entropy: float  # H / ln(K): 0 = certain, 1 = uniform over the K classes
    model_version: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with probabilities rounded to 4 decimals (enough, and compact)."""
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "entropy": round(self.entropy, 4),
            "model_version": self.model_version,
        }


def packaged_model_dir() -> Path:
    """The folder of the model shipped inside the ``fieldagent`` package."""
    return Path(str(resources.files("fieldagent").joinpath("models", "stress")))


class StressModel:
    """The stress classifier: crops in, one ``ModelOutput`` per crop out."""

    def __init__(self, session: ort.InferenceSession, manifest: Manifest, variant: str,
                 config: ModelConfig) -> None:
        self._session, self._config = session, config
        self._input = session.get_inputs()[0].name
        self.version, self.classes, self.variant = manifest.version, manifest.classes, variant
        self.input_size = manifest.input_size

    @classmethod
    def load(cls, config: ModelConfig) -> StressModel:
        """Read the manifest, check the file's sha256, open one session and warm it up."""
        folder = Path(config.path) if config.path else packaged_model_dir()
        manifest = read_manifest(folder)
        variant = manifest.pick_variant(config.variant)
        entry = manifest.files[variant]
        data = verified_bytes(folder / entry.file, entry.sha256)
        session = open_session(data, folder / entry.file, config.threads)
        model = cls(session, manifest, variant, config)
        model._check_shapes(folder / entry.file)
        model._warm_up(config.warmup_runs)
        return model

    def predict(self, crops: Sequence[np.ndarray]) -> list[ModelOutput]:
        """Classify RGB crops (uint8 or float [0, 1], any size) in batches."""
        outputs: list[ModelOutput] = []
        for start in range(0, len(crops), MAX_BATCH):
            batch = preprocess(crops[start:start + MAX_BATCH], self.input_size)
            logits = self._session.run(None, {self._input: batch})[0]
            outputs.extend(self._output(row) for row in softmax(np.asarray(logits)))
        return outputs

    def is_uncertain(self, output: ModelOutput) -> bool:
        """True when the top class is below the configured margin (worth a human look)."""
        return output.confidence < self._config.uncertain_margin

    def _output(self, probs: npt.NDArray[np.float64]) -> ModelOutput:
        top = int(np.argmax(probs))
        return ModelOutput(
            label=self.classes[top],
            confidence=float(probs[top]),
            probabilities={c: float(p) for c, p in zip(self.classes, probs, strict=True)},
            entropy=normalised_entropy(probs),
            model_version=self.version,
        )

    def _check_shapes(self, path: Path) -> None:
        """A model that does not match its manifest would give silently wrong labels."""
        x = np.zeros((2, 3, self.input_size, self.input_size), np.float32)
        try:
            logits = self._session.run(None, {self._input: x})[0]
        except Exception as exc:  # onnxruntime raises several unrelated types
            raise ModelError(f"{path}: the model does not accept a (N, 3, {self.input_size}, "
                             f"{self.input_size}) input as its manifest says ({exc}); re-run "
                             "`cloudjobs train-bootstrap`") from exc
        if np.shape(logits) != (2, len(self.classes)):
            raise ModelError(f"{path}: the model outputs shape {np.shape(logits)} for 2 crops "
                             f"but the manifest lists {len(self.classes)} classes; "
                             "re-run `cloudjobs train-bootstrap`")

    def _warm_up(self, runs: int) -> None:
        """The first runs allocate and pick kernels; pay for them at start-up."""
        x = np.zeros((1, 3, self.input_size, self.input_size), np.float32)
        for _ in range(runs):
            self._session.run(None, {self._input: x})


def open_session(data: bytes, path: Path, threads: int) -> ort.InferenceSession:
    """One CPU session with explicit threads, from bytes already checked against the manifest."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own, unexported exception types
        raise ModelError(f"{path}: ONNX Runtime cannot load this model ({exc}); re-run "
                         "`cloudjobs train-bootstrap` or install a newer onnxruntime") from exc


def softmax(logits: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Row-wise softmax in float64, stable for large logits."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def normalised_entropy(probs: npt.NDArray[np.float64]) -> float:
    """Shannon entropy divided by ln(K), clipped to [0, 1] against rounding."""
    p = probs[probs > 0]
    h = float(-(p * np.log(p)).sum()) / math.log(len(probs))
    return min(max(h, 0.0), 1.0)
