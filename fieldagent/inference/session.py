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

from fieldagent.inference.abstain import UNKNOWN, Abstention
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.errors import ModelError
from fieldagent.inference.manifest import Manifest, read_manifest, verified_bytes
from fieldagent.inference.preprocess import preprocess
from fieldcontract.records import ModelOutputRecord

MAX_BATCH = 32  # bounds the activation memory of one run; crops beyond this go in more runs


@dataclass(frozen=True)
class ModelOutput:
    """What the model said about one crop.

    ``label`` is the top class, or ``unknown`` when the model abstains (the crop is unlike
    its training data, ``ood_score`` above the manifest's threshold, or the calibrated top
    probability is below its minimum); ``top_class`` keeps the softmax's pick either way.
    ``may_override`` is False when the model did not beat the colour signals on held-out
    real photos: its probabilities are for people and sampling, never for alerts or colours.
    """

    label: str
    confidence: float
    probabilities: dict[str, float]
    entropy: float  # H / ln(K): 0 = certain, 1 = uniform over the K classes
    model_version: str
    top_class: str = ""
    ood_score: float | None = None
    may_override: bool = False

    @property
    def abstained(self) -> bool:
        """True when the model said ``unknown``."""
        return self.label == UNKNOWN

    def says_stressed(self, min_confidence: float) -> bool:
        """True only when the model may override the colour signals, did not abstain and
        names a stress class with at least ``min_confidence``: the one case where its verdict
        may colour a zone or fire a rule on its own."""
        return (self.may_override and self.label not in (UNKNOWN, "healthy")
                and self.confidence >= min_confidence)

    def to_record(self) -> ModelOutputRecord:
        """The zone record's ``model`` as it crosses to the cloud, with probabilities
        rounded to 4 decimals (enough, and compact)."""
        return ModelOutputRecord(
            label=self.label,
            confidence=round(self.confidence, 4),
            probabilities={k: round(v, 4) for k, v in self.probabilities.items()},
            entropy=round(self.entropy, 4),
            model_version=self.model_version,
            top_class=self.top_class or self.label,
            ood_score=None if self.ood_score is None else round(self.ood_score, 3),
            may_override=self.may_override,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the record's JSON (``fieldagent process`` prints the same)."""
        return self.to_record().to_json()


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
        self.temperature = manifest.temperature
        self.abstention: Abstention | None = manifest.abstain
        self.overrides_colour_signals = manifest.overrides_colour_signals
        self._outputs = [o.name for o in session.get_outputs()]

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
            logits, ood = self._run(batch)
            probs = softmax(logits / self.temperature)
            outputs.extend(self._output(p, o) for p, o in zip(probs, ood, strict=True))
        return outputs

    def _run(self, batch: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float64],
                                                           list[float | None]]:
        """Logits, and the OOD score per crop when the manifest describes abstention."""
        results = self._session.run(None, {self._input: batch})
        logits = np.asarray(results[0], np.float64)
        if self.abstention is None:
            return logits, [None] * len(batch)
        feats = results[self._outputs.index(self.abstention.features_output)]
        return logits, [float(v) for v in self.abstention.scores(np.asarray(feats))]

    def is_uncertain(self, output: ModelOutput) -> bool:
        """True when the top class is below the configured margin (worth a human look)."""
        return output.confidence < self._config.uncertain_margin

    def _output(self, probs: npt.NDArray[np.float64], ood: float | None) -> ModelOutput:
        top = int(np.argmax(probs))
        confidence = float(probs[top])
        label = self.classes[top]
        ab = self.abstention
        if ab is not None and ((ood is not None and not ood <= ab.ood_threshold)
                               or confidence < ab.min_confidence):
            label = UNKNOWN
        return ModelOutput(
            label=label,
            confidence=confidence,
            probabilities={c: float(p) for c, p in zip(self.classes, probs, strict=True)},
            entropy=normalised_entropy(probs),
            model_version=self.version,
            top_class=self.classes[top],
            ood_score=ood,
            may_override=self.overrides_colour_signals,
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
        if self.abstention is not None and self.abstention.features_output not in self._outputs:
            raise ModelError(f"{path}: the manifest's abstention reads the model output "
                             f"{self.abstention.features_output!r}, but the model only has "
                             f"{self._outputs}; re-run `cloudjobs train-bootstrap`")
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
