"""Labelled single-pot crops for training and testing the stress classifier.

Crops are rendered a few at a time as a 1 x k strip of cells whose grid fills the image, so
each crop is exactly a pot_box as it would appear in a full scene (neighbours on one bench
share bench, pots, variety and growth, but not condition). Each crop then gets its own
exposure, colour temperature and camera degradations (defocus, fog, noise, JPEG).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fieldagent.synth import faults
from fieldagent.synth.scene import render_framed
from fieldagent.synth.spec import CONDITIONS, MODEL_CLASSES, RGBImage, SceneSpec
from fieldagent.synth.texture import rng_for

PER_BENCH = 4  # crops rendered together; sharing the fixed cost of a render


def labelled_crops(n: int, *, seed: int = 0,
                   classes: tuple[str, ...] = MODEL_CLASSES) -> tuple[list[RGBImage], np.ndarray]:
    """`n` crops balanced over `classes` (counts differ by at most one), in shuffled order,
    with int64 labels indexing `classes`. Same arguments -> identical crops."""
    unknown = [c for c in classes if c not in CONDITIONS]
    if unknown or not classes:
        raise ValueError(f"classes {unknown or classes} must be a non-empty subset of {CONDITIONS}")
    rng = rng_for(seed, 9001)
    labels = rng.permutation(np.arange(n) % len(classes)).astype(np.int64)
    crops: list[RGBImage] = []
    for start in range(0, n, PER_BENCH):
        batch = [classes[int(label)] for label in labels[start:start + PER_BENCH]]
        crops += _bench_of_crops(batch, rng_for(seed, 9002, start))
    return crops, labels


def _bench_of_crops(conditions: list[str], rng: np.random.Generator) -> list[RGBImage]:
    """One pot per condition, side by side on one randomly drawn bench, cut apart."""
    width = round(float(np.exp(rng.uniform(np.log(80), np.log(260)))))
    height = int(np.clip(round(width * rng.uniform(0.9, 1.1)), 80, 260))
    # Large crops come from a camera with coarser sampling: render at half size and scale
    # up (as cheap as a small crop; the 64 px model input cannot tell the difference).
    scale = 0.5 if min(width, height) > 150 else 1.0
    cell_w, cell_h = round(width * scale), round(height * scale)
    stress = {i: (c, float(rng.uniform(0.35, 1.0)))
              for i, c in enumerate(conditions) if c != "healthy"}
    spec = SceneSpec(
        width=cell_w * len(conditions), height=cell_h, rows=1, cols=len(conditions),
        layout="rows" if rng.random() < 0.25 else "pots", seed=int(rng.integers(0, 2**31)),
        growth=float(rng.uniform(0.7, 1.45)), stress=stress, light=float(rng.uniform(0.65, 1.2)),
        warmth=float(rng.uniform(-0.6, 0.6)), frame_seed=int(rng.integers(0, 2**31)),
    )
    scene = render_framed(spec, framed=False)
    crops = []
    for plant in scene.plants:
        x0, y0, x1, y1 = plant.pot_box
        img = scene.image[y0:y1, x0:x1]
        if scale != 1.0:
            img = np.asarray(Image.fromarray(img).resize((width, height),
                                                         Image.Resampling.BICUBIC))
        crops.append(_degrade(_expose(img, rng), rng))
    return crops


def _expose(img: RGBImage, rng: np.random.Generator) -> RGBImage:
    """Per-crop exposure and colour-temperature variation on top of the bench's."""
    tilt = rng.uniform(-0.15, 0.15)
    gain = rng.uniform(0.85, 1.15) * np.array([1 + tilt, 1.0, 1 - tilt], np.float32)
    return np.clip(img * gain + 0.5, 0, 255).astype(np.uint8)


def _degrade(img: RGBImage, rng: np.random.Generator) -> RGBImage:
    """Mild, random camera degradations: defocus, fog, extra noise, JPEG compression."""
    if rng.random() < 0.3:
        img = faults.blur(img, float(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.2:
        img = faults.haze(img, float(rng.uniform(0.05, 0.35)), seed=int(rng.integers(1 << 30)))
    if rng.random() < 0.3:
        noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1, 5))
        noise += img
        img = np.clip(noise, 0, 255, out=noise).astype(np.uint8)
    if rng.random() < 0.6:
        img = _jpeg_roundtrip(img, int(rng.integers(45, 96)))
    return img


def _jpeg_roundtrip(img: RGBImage, quality: int) -> RGBImage:
    """Encode and decode as JPEG in memory (block artefacts, chroma softening)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()
