"""Golden vectors: fixed inputs and the outputs the cloud got from the model it released.

A device runs the downloaded model on the same inputs before it switches to it. A model
that loads but computes something else (a different onnxruntime build, a broken kernel,
a model exported with another class order, golden vectors from another model) is refused
here, before it ever sees a real image.

``golden.npz`` (``numpy.savez_compressed``, no pickles) holds:

* ``inputs``: uint8 ``(N, S, S, 3)`` RGB crops at the model's input size;
* ``classes``: the class names, in the order of the expected columns;
* ``expected_<variant>``: float64 ``(N, K)`` probabilities from each variant (int8, fp32);
* ``tolerance``: the largest absolute probability difference accepted. INT8 kernels differ
  a little between CPUs (with or without VNNI); a wrong model moves probabilities by far
  more than the default 0.05.

Both sides call ``StressModel.predict`` (with its preprocessing), so the check covers the
whole path from crop to probabilities.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from fieldagent.inference.config import ModelConfig
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import StressModel
from fieldagent.modelupdate.errors import ManifestRejected
from fieldagent.synth.crops import labelled_crops

DEFAULT_TOLERANCE = 0.05
DEFAULT_COUNT = 16
DEFAULT_SEED = 7707  # not one of the trainer's seeds: crops the model was not trained on


@dataclass(frozen=True)
class GoldenCheck:
    """How close the device's outputs came to the expected ones."""

    max_abs_diff: float
    tolerance: float
    count: int


def make_golden(model_dir: Path, *, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED,
                tolerance: float = DEFAULT_TOLERANCE) -> bytes:
    """Run every variant of the model in ``model_dir`` on deterministic crops; npz bytes."""
    manifest = read_manifest(model_dir)
    size = manifest.input_size
    crops, _ = labelled_crops(count, seed=seed)
    inputs = np.stack([
        np.asarray(Image.fromarray(c).resize((size, size), Image.Resampling.BILINEAR))
        for c in crops
    ])
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "inputs": inputs.astype(np.uint8),
        "classes": np.array(manifest.classes),
        "tolerance": np.array(tolerance, np.float64),
    }
    for variant in manifest.files:
        config = ModelConfig.model_validate(
            {"path": str(model_dir), "variant": variant, "warmup_runs": 0})
        arrays[f"expected_{variant}"] = _probabilities(StressModel.load(config), manifest.classes,
                                                       list(inputs))
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def check_golden(model: StressModel, data: bytes) -> GoldenCheck:
    """Run ``model`` on the golden inputs; ``ManifestRejected('golden_mismatch')`` if off."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        inputs, tolerance = arrays["inputs"], float(arrays["tolerance"])
        classes = tuple(str(c) for c in arrays["classes"])
    except (OSError, ValueError, KeyError) as exc:
        raise ManifestRejected("golden_mismatch", f"golden.npz is unreadable ({exc}); "
                               "re-publish the release with `cloudjobs release`") from None
    expected = arrays.get(f"expected_{model.variant}")
    if expected is None:
        raise ManifestRejected("golden_mismatch", f"golden.npz has no expected outputs for "
                               f"the {model.variant} variant this device runs")
    if set(classes) != set(model.classes) or expected.shape != (len(inputs), len(classes)):
        raise ManifestRejected("golden_mismatch", f"golden.npz is for classes {classes}, "
                               f"the model has {model.classes}: it belongs to another model")
    try:
        actual = _probabilities(model, classes, list(inputs))
    except ValueError as exc:  # inputs that are not RGB crops
        raise ManifestRejected("golden_mismatch", f"golden.npz inputs are unusable ({exc}); "
                               "re-publish the release with `cloudjobs release`") from None
    diff = float(np.abs(actual - expected).max())
    if not diff <= tolerance:
        raise ManifestRejected(
            "golden_mismatch", f"the model's outputs on the golden inputs differ from the "
            f"cloud's by up to {diff:.4f} (tolerance {tolerance}): this device computes "
            "something else than the model that was released; not installing it")
    return GoldenCheck(max_abs_diff=diff, tolerance=tolerance, count=len(inputs))


def _probabilities(model: StressModel, classes: tuple[str, ...],
                   crops: list[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float64]:
    """``(N, K)`` probabilities with columns in ``classes`` order (matched by name)."""
    outputs = model.predict(crops)
    return np.array([[o.probabilities[c] for c in classes] for o in outputs], np.float64)
