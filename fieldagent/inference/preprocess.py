"""Crops to the model's input tensor. Training calls this very function: no train/serve skew.

Resizing goes through Pillow's bilinear filter on 8-bit RGB. Pillow widens the filter
support when shrinking (antialiasing), so a 250 px crop and an 80 px crop of the same plant
give similar 64 px inputs; working in 8 bit is lossless here because every image the agent
sees was 8 bit once (JPEG), and it keeps the resize fast on a small CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

INPUT_SIZE = 64


def preprocess(crops: Sequence[np.ndarray], size: int = INPUT_SIZE) -> npt.NDArray[np.float32]:
    """Stack RGB crops (uint8, or float in [0, 1]; any HxW) into float32 ``(N, 3, size, size)``.

    Values stay RGB in [0, 1], without mean/std normalisation (the model contract).
    Raises ``ValueError`` for a crop that is not a non-empty ``(H, W, 3)`` array.
    """
    out = np.empty((len(crops), 3, size, size), np.float32)
    for i, crop in enumerate(crops):
        small = Image.fromarray(to_uint8(crop, index=i)).resize(
            (size, size), Image.Resampling.BILINEAR
        )
        out[i] = np.asarray(small, np.float32).transpose(2, 0, 1)
    out *= np.float32(1.0 / 255.0)
    return out


def to_uint8(crop: np.ndarray, *, index: int = 0) -> npt.NDArray[np.uint8]:
    """An RGB crop as contiguous uint8; floats are taken as [0, 1] and rounded."""
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] == 0 or crop.shape[1] == 0:
        raise ValueError(
            f"crop {index} has shape {crop.shape}; the stress model needs a non-empty "
            "RGB array of shape (H, W, 3)"
        )
    if crop.dtype == np.uint8:
        return np.ascontiguousarray(crop)
    if not np.issubdtype(crop.dtype, np.floating):
        raise ValueError(f"crop {index} has dtype {crop.dtype}; use uint8 or float in [0, 1]")
    scaled = np.clip(crop * np.float32(255.0) + np.float32(0.5), 0.0, 255.0)
    return scaled.astype(np.uint8)
