"""Rebuild the reference masks in this folder from the real photos (run by hand, not by pytest).

    PYTHONPATH=. python tests/roi/reference/make_references.py [--overlays /tmp/ref]

Every mask is made by a method independent of ``fieldagent.roi.segment``: a
colour distance from the image's own background, sampled where the background
is known, then hole filling and small-object removal, plus corrections written
below as polygons after looking at the overlays.  See README.md for the recipe.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from tests.support.photos import REAL, photo
from tests.support.reference_masks import HERE, stressed_pixels

PV = REAL / "leaves-pv"


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Saturation and value planes."""
    value = rgb.max(axis=2)
    sat = (value - rgb.min(axis=2)) / np.maximum(value, 1e-6)
    return sat, value


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """(r, g) chromaticity: brightness removed, so a shadow has its surface's chroma."""
    total = np.maximum(rgb.sum(axis=2, keepdims=True), 1e-3)
    return (rgb / total)[..., :2]


def _clean(mask: np.ndarray, *, open_r: int, min_share: float, max_hole: int) -> np.ndarray:
    """Opening, objects >= ``min_share`` of the largest, holes up to ``max_hole`` filled."""
    if open_r:
        mask = ndi.binary_opening(mask, iterations=open_r)
    labels, n = ndi.label(mask)
    if n:
        size = np.bincount(labels.ravel())
        keep = size >= min_share * size[1:].max()
        keep[0] = False
        mask = keep[labels]
    holes = ndi.binary_fill_holes(mask) & ~mask
    labels, n = ndi.label(holes)
    if n:
        size = np.bincount(labels.ravel())
        size[0] = max_hole + 1
        mask = mask | (size <= max_hole)[labels]
    return mask


def _polygons(shape: tuple[int, int], polys: list[list[tuple[int, int]]]) -> np.ndarray:
    canvas = Image.new("1", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for poly in polys:
        draw.polygon(poly, fill=1)
    return np.asarray(canvas, dtype=bool)


def pv_leaf(rgb: np.ndarray, method: str) -> np.ndarray:
    """A PlantVillage leaf on its grey lab board (``method="board"``), or a close-up
    that the leaf fills edge to edge (``"fills_frame"``: every pixel is leaf).

    The board is nearly grey with one chromaticity, sampled as the median
    chromaticity of the low-saturation pixels of the 6-px border.  Leaf =
    chromaticity farther than 0.035 from it, or saturation above 0.3 (vivid tissue
    of any hue); never darker than 0.2 (the leaf's cast shadow, whose chroma is
    noise); then objects >= 5 % of the largest, opened by 2, all holes filled
    (dark lesions and glare inside the leaf come back here).
    """
    if method == "fills_frame":
        return np.ones(rgb.shape[:2], bool)
    sat, value = _hsv(rgb)
    border = np.zeros(sat.shape, bool)
    border[:6], border[-6:], border[:, :6], border[:, -6:] = True, True, True, True
    bg = np.median(_chroma(rgb)[border & (sat < 0.25)], axis=0)
    far = np.linalg.norm(_chroma(rgb) - bg, axis=2) > 0.035
    mask = (far | (sat > 0.3)) & ((value >= 0.2) | ((sat > 0.45) & (value >= 0.06)))
    return _clean(mask, open_r=2, min_share=0.05, max_hole=10**6)


# Not leaves, drawn by hand on the 1024 x 768 frame: the colour card and the white labels.
_LEAVES_16MP_OUT = [
    [(850, 25), (1000, 25), (1000, 135), (850, 135)],
    [(485, 5), (560, 5), (560, 40), (485, 40)],
    [(815, 50), (865, 50), (865, 90), (815, 90)],
    [(980, 45), (1024, 45), (1024, 90), (980, 90)],
    [(470, 740), (605, 740), (605, 768), (470, 768)],
]


def leaves_16mp(rgb: np.ndarray) -> np.ndarray:
    """Leaves on black cloth, labels and a colour card (analysis scale, 1024 x 768).

    The cloth is dark (max channel <= 0.28 at its 95th percentile, sampled at its
    left, right, top and bottom), every leaf brighter (>= 0.4, brown and yellow
    tissue too): leaf = max channel > 0.33, minus the card and the labels drawn
    as polygons; opened by 2 (cloth folds catching light), objects >= 0.4 % of the
    largest, holes up to 400 px filled (dark veins).
    """
    _, value = _hsv(rgb)
    mask = (value > 0.33) & ~_polygons(value.shape, _LEAVES_16MP_OUT)
    return _clean(mask, open_r=2, min_share=0.004, max_hole=400)


def arabidopsis(rgb: np.ndarray) -> np.ndarray:
    """Rosettes in soil (analysis scale, 1024 x 768).

    The soil, perlite, trays, label and wall are never vividly green; rosette
    blades are: hue 70-170 deg with saturation > 0.4 and value > 0.25, opened by 1
    (algae specks on the soil), objects >= 25 px.  Petioles and blade edges are
    paler: pixels of hue 60-170, saturation > 0.25 and value > 0.2 within 5 px of a
    blade are added where they touch one (hysteresis; farther out they are algae).
    Holes up to 50 px filled.
    """
    sat, value = _hsv(rgb)
    hue = _hue(rgb)
    blades = (hue > 70) & (hue < 170) & (sat > 0.4) & (value > 0.25)
    blades = _clean(blades, open_r=1, min_share=0.0, max_hole=0)
    labels, _ = ndi.label(blades)
    size = np.bincount(labels.ravel())
    blades = (size >= 25)[labels] & blades
    loose = (hue > 60) & (hue < 170) & (sat > 0.25) & (value > 0.2)
    loose &= ndi.binary_dilation(blades, iterations=5)  # petioles run between blades
    labels, _ = ndi.label(loose | blades)
    touched = np.zeros(labels.max() + 1, bool)
    touched[labels[blades]] = True
    touched[0] = False
    return _clean(touched[labels], open_r=0, min_share=0.0, max_hole=50)


def _hue(rgb: np.ndarray) -> np.ndarray:
    """HSV hue in degrees."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=2)
    delta = np.maximum(value - rgb.min(axis=2), 1e-6)
    hue = np.where(value == red, (green - blue) / delta,
                   np.where(value == green, 2 + (blue - red) / delta, 4 + (red - green) / delta))
    return (60 * hue) % 360


PHOTOS = {"leaves_16mp": leaves_16mp, "arabidopsis_tray": arabidopsis}


def _save_mask(mask: np.ndarray, path: Path) -> None:
    Image.fromarray(mask).convert("1").save(path, optimize=True)


def _overlay(rgb: np.ndarray, mask: np.ndarray, stressed: np.ndarray, path: Path) -> None:
    out = (rgb * 255).astype(np.uint8)
    out[~mask] = out[~mask] // 4
    edge = mask & ~ndi.binary_erosion(mask)
    out[edge] = (255, 0, 255)
    out[stressed & ~edge] = (out[stressed & ~edge] // 2 + [0, 0, 120]).clip(0, 255)
    Image.fromarray(out).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--overlays", type=Path, help="also write overlays here to look at")
    args = parser.parse_args()
    if args.overlays:
        args.overlays.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name, make in PHOTOS.items():
        rgb = photo(f"{name}.jpg")
        jobs.append((name, rgb, make(rgb)))
    with (HERE / "leaves.csv").open() as fh:
        for row in csv.DictReader(fh):
            rgb = np.asarray(Image.open(PV / row["file"]).convert("RGB"), np.float32) / 255
            jobs.append((row["name"], rgb, pv_leaf(rgb, row["method"])))
    for name, rgb, mask in jobs:
        _save_mask(mask, HERE / f"{name}.plant.png")
        stressed = stressed_pixels(rgb, mask)
        share = stressed.sum() / max(mask.sum(), 1)
        print(f"{name}: plant {mask.mean():.3f}, stressed {share:.3f}")
        if args.overlays:
            _overlay(rgb, mask, stressed, args.overlays / f"{name}.png")


if __name__ == "__main__":
    main()
