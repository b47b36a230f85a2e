"""Inputs that are not plants, to measure how often the stress model abstains on them.

A camera sees more than plants: a colour card, a wall, an empty pot of soil, a sign, or a
sensor gone wrong. The model must say ``unknown`` for these rather than name a disease.
Generated, deterministic from a seed, uint8 RGB; used by the training report, the tests
and ``bench/truth_model.py``. No torch here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from cloudjobs.training.greenhouse_view import surface

# sRGB values of the 24 ColorChecker Classic patches (X-Rite's published D50 values, 8 bit).
COLORCHECKER = (
    (115, 82, 68), (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177),
    (103, 189, 170), (214, 126, 44), (80, 91, 166), (193, 90, 99), (94, 60, 108),
    (157, 188, 64), (224, 163, 46), (56, 61, 150), (70, 148, 73), (175, 54, 60),
    (231, 199, 31), (187, 86, 149), (8, 133, 161), (243, 243, 242), (200, 200, 200),
    (160, 160, 160), (122, 122, 121), (85, 85, 85), (52, 52, 52),
)
KINDS = ("noise", "colour_card", "wall", "soil", "text")


def noise(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """Uniform RGB noise: a broken sensor or a corrupt frame."""
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def colour_card(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """A ColorChecker-like 4x6 patch card on a black frame, at a random light level."""
    card = np.zeros((4 * 12 + 2, 6 * 12 + 2, 3), np.float32)
    for i, rgb in enumerate(COLORCHECKER):
        r, c = divmod(i, 6)
        card[1 + r * 12 + 1:1 + r * 12 + 11, 1 + c * 12 + 1:1 + c * 12 + 11] = rgb
    card *= np.float32(rng.uniform(0.6, 1.1))
    img = Image.fromarray(np.clip(card, 0, 255).astype(np.uint8))
    return np.asarray(img.resize((size, size * 4 // 6 + 1), Image.Resampling.BILINEAR))


def wall(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """A plain painted wall or panel: one flat colour with a little grain and shading."""
    base = rng.uniform(60, 235, 3)
    shade = np.linspace(1 - rng.uniform(0, 0.15), 1, size)[:, None, None]
    img = base * shade + rng.normal(0, 3, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def soil(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """An empty pot's soil or a bare bench: the background with no plant on it."""
    return (surface(rng, size) * 255 + 0.5).astype(np.uint8)


def text(rng: np.random.Generator, size: int) -> npt.NDArray[np.uint8]:
    """A printed label or sign: dark text on a light card."""
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(img)
    for line in range(0, size, 14):
        words = "".join(chr(int(c)) for c in rng.integers(65, 91, 12))
        draw.text((4, line + 2), words, fill=(20, 20, 30))
    return np.asarray(img)


_MAKERS = {"noise": noise, "colour_card": colour_card, "wall": wall, "soil": soil, "text": text}


def non_plant_images(per_kind: int, seed: int = 0,
                     kinds: tuple[str, ...] = KINDS) -> list[tuple[str, npt.NDArray[np.uint8]]]:
    """``per_kind`` images of each kind, as (kind, image), sizes 64-240 px."""
    rng = np.random.default_rng(seed)
    return [(kind, _MAKERS[kind](rng, int(rng.integers(64, 241))))
            for kind in kinds for _ in range(per_kind)]
