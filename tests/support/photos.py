"""The real plant photos in ``shared/data/real`` (beside the repository), at analysis scale.

One place for the path and the loader, so every test reads the photos the same way
wherever the repository is cloned.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@cache
def photo(name: str) -> np.ndarray:
    """A real photo as float32 RGB in [0, 1], long side <= 1024 (read-only, cached).

    Grayscale 16-bit NIR images are scaled to [0, 1] and repeated into three channels.
    """
    im: Image.Image = Image.open(REAL / name)
    if im.mode.startswith("I;16"):
        gray = np.asarray(im, dtype=np.float32) / 65535.0
        arr = np.repeat(gray[:, :, None], 3, axis=2)
    else:
        im.draft("RGB", (1024, 1024))
        im = im.convert("RGB")
        im.thumbnail((1024, 1024))
        arr = np.asarray(im, dtype=np.float32) / 255.0
    arr.setflags(write=False)
    return arr
