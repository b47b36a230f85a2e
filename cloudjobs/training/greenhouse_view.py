"""Real leaf photos re-staged as a greenhouse top-view camera would see them.

A PlantVillage photo is one leaf filling a 256 px frame on a grey lab card, in studio light.
A greenhouse zone crop is a plant on soil, a bench or a tray, smaller in the frame, under
daylight or lamps of varying colour, sometimes soft. ``greenhouse_view`` keeps the leaf's
real tissue (inside the agent's leaf mask) and changes everything else:

* background: the grey card is replaced by soil or a bench surface from the synthetic
  generator's own textures (the model must not learn "grey card = real leaf");
* scale: the leaf fills 35-100 % of the crop's side, at a random place, random crop size;
* light: brightness and colour temperature (a warm/cool tilt of red against blue);
* optics: mild defocus blur, sensor noise, JPEG.

The changes stay inside what keeps the label true: the colour tilt is small enough that a
healthy leaf stays green and never turns chlorotic yellow. Pure functions of a numpy RNG.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image

from fieldagent.synth import faults
from fieldagent.synth.background import BENCHES, FLOORS, bench, random_look
from fieldagent.synth.texture import fine_noise, smooth_noise

F = np.float32


def surface(rng: np.random.Generator, size: int) -> npt.NDArray[np.float32]:
    """A square (size, size, 3) float image of soil or a greenhouse bench/floor, in [0, 1]."""
    shape = (size, size)
    tex = np.empty((3, *shape), F)
    tex[0] = fine_noise(rng, shape) * F(2.4)
    tex[1] = smooth_noise(rng, shape, 2.5)
    tex[2] = smooth_noise(rng, shape, 10.0)
    if rng.random() < 0.5:  # potting soil: grain and crumbs in a brown base colour
        soil = np.array(random_look(rng, "pots").soil_rgb, F)
        grain = F(1) + F(0.30) * tex[0] + F(0.22) * tex[1] + F(0.12) * tex[2]
        img = np.maximum(grain, F(0.3))[None] * soil[:, None, None]
    else:
        kind = str(rng.choice(BENCHES + FLOORS))
        img = bench(rng, shape, kind, tex)
    return np.clip(img.transpose(1, 2, 0), 0.0, 1.0)


def greenhouse_view(rgb: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_],
                    rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """One randomised greenhouse-style crop (uint8 RGB, 72-200 px square) of a real leaf."""
    size = int(rng.integers(72, 201))
    fill = float(rng.uniform(0.35, 1.0))
    leaf_px = max(8, round(size * fill))
    leaf = _resize(rgb, leaf_px).astype(F) / F(255.0)
    alpha = _resize((mask * 255).astype(np.uint8), leaf_px, gray=True).astype(F) / F(255.0)
    canvas = surface(rng, size) if rng.random() < 0.85 else _grey_card(rgb, mask, size)
    y, x = (int(rng.integers(0, size - leaf_px + 1)) for _ in range(2))
    region = canvas[y:y + leaf_px, x:x + leaf_px]
    region[:] = alpha[..., None] * leaf + (1 - alpha[..., None]) * region
    return _camera(_light(canvas, rng), rng)


def _grey_card(rgb: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_],
               size: int) -> npt.NDArray[np.float32]:
    """The photo's own background colour, flat: some views keep a lab-like backdrop."""
    bg = rgb[~mask].astype(F).mean(0) / F(255.0) if (~mask).any() else np.full(3, 0.5, F)
    return np.broadcast_to(bg, (size, size, 3)).copy()


def _light(img: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Brightness x0.6-1.25 and a colour-temperature tilt (red up, blue down or reverse)."""
    tilt = float(rng.uniform(-0.12, 0.12))
    gain = F(rng.uniform(0.6, 1.25)) * np.array([1 + tilt, 1.0, 1 - tilt], F)
    out: npt.NDArray[np.float32] = np.clip(img * gain, 0.0, 1.0)
    return out


def _camera(img: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Defocus, sensor noise and JPEG, each on some of the views."""
    out = (img * F(255.0) + F(0.5)).astype(np.uint8)
    if rng.random() < 0.35:
        out = faults.blur(out, float(rng.uniform(0.4, 1.6)))
    if rng.random() < 0.3:
        noisy = out + rng.standard_normal(out.shape).astype(F) * F(rng.uniform(1, 5))
        out = np.clip(noisy, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(rng.integers(50, 95)))
        buf.seek(0)
        with Image.open(buf) as im:
            out = np.asarray(im.convert("RGB")).copy()
    return out


def _resize(img: npt.NDArray[np.uint8], side: int, gray: bool = False) -> npt.NDArray[np.uint8]:
    """Square resize with Pillow's antialiasing bilinear filter."""
    pil = Image.fromarray(img, "L" if gray else "RGB")
    return np.asarray(pil.resize((side, side), Image.Resampling.BILINEAR))
