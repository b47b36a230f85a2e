"""Outlier exposure: images that are nothing the model knows, to be answered with doubt.

Trained with a loss that pulls the softmax towards uniform on these (Hendrycks et al. 2019,
"Deep anomaly detection with outlier exposure"), the model learns that "not a plant" means
"no class", so its calibrated confidence falls below the abstention threshold on them.
They are deliberately *other* generators than the non-plant probes that measure abstention
(``probes.py``: noise, colour card, wall, soil, text), so that measurement stays honest:
smooth random colour fields, random coloured shapes, and bare greenhouse benches and floors.
No torch here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from fieldagent.inference.preprocess import INPUT_SIZE, preprocess
from fieldagent.synth.background import BENCHES, FLOORS, bench
from fieldagent.synth.texture import fine_noise, smooth_noise

OUTLIER_SEED = 6606


def colour_field(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """Smooth random colour blobs: no edges or texture a plant would have."""
    planes = [smooth_noise(rng, (size, size), float(rng.uniform(4, 30))) for _ in range(3)]
    img = np.stack(planes, -1) * rng.uniform(40, 90) + rng.uniform(40, 215, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def shapes(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """Random rectangles and ellipses in random colours on a random flat background."""
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 9))):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        x1, y1 = x0 + int(rng.integers(4, size)), y0 + int(rng.integers(4, size))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x0, y0, x1, y1), fill=fill)
    return np.asarray(img)


def bare_bench(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """A greenhouse bench or floor with nothing on it."""
    shape = (size, size)
    tex = np.stack([fine_noise(rng, shape) * np.float32(2.4), smooth_noise(rng, shape, 2.5),
                    smooth_noise(rng, shape, 10.0)])
    img = bench(rng, shape, str(rng.choice(BENCHES + FLOORS)), tex).transpose(1, 2, 0)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def outlier_inputs(n: int, seed: int = OUTLIER_SEED) -> npt.NDArray[np.float32]:
    """``n`` preprocessed outlier crops (N, 3, S, S), a third of each kind."""
    rng = np.random.default_rng(seed)
    makers = (colour_field, shapes, bare_bench)
    images = [makers[i % 3](rng, int(rng.integers(64, 200))) for i in range(n)]
    return preprocess(images, INPUT_SIZE)
