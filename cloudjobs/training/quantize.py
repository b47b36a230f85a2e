"""INT8 quantization of the FP32 ONNX model with ``onnxruntime.quantization``.

Static QDQ quantization, calibrated on real generated crops (their own seed, never the
held-out set), U8 activations with S8 weights, per-channel weight scales. Measured with
``bench/bench_model.py`` on the build machine (AVX2, no VNNI): every static variant (U8S8,
S8S8, per-tensor) runs at FP32 speed within ±10 % for this 5 M-MAC network (the INT8
convolutions are ~1.5x faster but the 3-channel stem conv and the input quantize/transpose
cost it back), dynamic quantization is ~1.7x slower, and INT8 is 0.31x the size with no
measurable accuracy loss. U8S8 is kept because it was reported 2-3x faster than FP32 on
an x86 machine with VNNI (not exposed on the build VM, so not re-checked) and ties here;
per-channel guards accuracy when BatchNorm folding leaves channels of very different ranges.
No torch here: the benchmark re-creates the variants without the training extra.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

Scheme = Literal["u8s8", "s8s8"]
_TYPES = {"u8s8": (QuantType.QUInt8, QuantType.QInt8), "s8s8": (QuantType.QInt8, QuantType.QInt8)}


class CropReader(CalibrationDataReader):
    """Feeds preprocessed crops to the calibrator in small batches."""

    def __init__(self, x: npt.NDArray[np.float32], batch: int = 16) -> None:
        self._batches: Iterator[npt.NDArray[np.float32]] = (
            x[i:i + batch] for i in range(0, len(x), batch)
        )

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        """The next batch as ``{"input": array}``, or None when done."""
        batch = next(self._batches, None)
        return None if batch is None else {"input": batch}


def preprocess_for_quant(fp32: Path, out: Path) -> None:
    """ORT's recommended pre-pass: shape inference and graph optimisation before quantizing."""
    quant_pre_process(str(fp32), str(out), skip_symbolic_shape=False)


def quantize_int8(fp32: Path, out: Path, calib: npt.NDArray[np.float32], *,
                  scheme: Scheme = "u8s8", per_channel: bool = True) -> None:
    """Static QDQ INT8 model at ``out``, activation ranges from MinMax over ``calib``."""
    activation, weight = _TYPES[scheme]
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        preprocess_for_quant(fp32, pre)
        quantize_static(
            str(pre), str(out), CropReader(calib),
            quant_format=QuantFormat.QDQ,
            activation_type=activation, weight_type=weight,
            per_channel=per_channel, calibrate_method=CalibrationMethod.MinMax,
        )


def quantize_dynamic_int8(fp32: Path, out: Path) -> None:
    """Dynamic quantization (weights INT8, activations quantized at run time), for the record."""
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        preprocess_for_quant(fp32, pre)
        quantize_dynamic(str(pre), str(out), weight_type=QuantType.QUInt8)
