"""Export the trained network to ONNX: input ``input`` (N, 3, 64, 64), output ``logits``.

Uses the TorchScript exporter (``dynamo=False``): for this plain CNN it is fast, folds
BatchNorm into the convolutions and emits ``GlobalAveragePool`` (which ONNX Runtime can run
in INT8), whereas the dynamo exporter emits ``ReduceMean`` and a larger file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

OPSET = 17


def export_onnx(model: nn.Module, path: Path, input_size: int = 64,
                outputs: tuple[str, ...] = ("logits",)) -> None:
    """Write ``model`` (eval mode) as ONNX with a dynamic batch dimension.

    ``outputs`` names the model's outputs in order (``logits`` first, the model contract).
    """
    model.eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model, (dummy,), str(path),
            input_names=["input"], output_names=list(outputs),
            dynamic_axes={"input": {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def check_export(model: nn.Module, path: Path, x: np.ndarray, atol: float = 1e-4) -> float:
    """Max |torch - onnxruntime| logit difference on ``x``; raise if above ``atol``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        result = model.eval()(torch.from_numpy(x))
        expected = (result[0] if isinstance(result, tuple) else result).numpy()
    got = session.run(None, {"input": x})[0]
    diff = float(np.abs(expected - got).max())
    if diff > atol:
        raise RuntimeError(f"{path}: ONNX logits differ from torch by {diff:.2e} (> {atol})")
    return diff
