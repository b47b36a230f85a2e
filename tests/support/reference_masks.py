"""Reference plant masks of real photos (``tests/roi/reference``) and the scores
a segmentation gets against them.

Tests and ``bench/bench_truth.py`` both use this module, so a figure in the
benchmark and an assertion in a test mean the same thing.  A reference is a
1-bit PNG of the plant (made as ``tests/roi/reference/README.md`` says); its
*stressed tissue* is derived from it by :func:`stressed_pixels`, a colour rule
on the photo's pixels inside the reference, independent of the segmenter.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from tests.support.photos import REAL, photo

HERE = Path(__file__).resolve().parents[1] / "roi" / "reference"
LEAVES = HERE / "leaves.csv"
# A reference's stressed-tissue recall means something from this many stressed pixels and this
# share of the plant: below them they are scattered mixed pixels in crevices (the healthy tray
# has 273, 0.5 %), not a symptom.
MIN_STRESSED_PX = 150
MIN_STRESSED_SHARE = 0.01
# Stressed tissue: yellow to brown hue (below 65 deg, or red-brown from 330 deg), coloured and
# bright enough to call: what the signals' default hue bins count as yellow or brown.
_STRESS_HUE_DEG = 65.0
_STRESS_RED_DEG = 330.0
_MIN_SATURATION = 0.15
_MIN_VALUE = 0.08


@dataclass(frozen=True)
class Reference:
    """One real photo (float RGB in [0, 1]) with its reference plant and stressed-tissue masks."""

    name: str
    rgb: np.ndarray
    plant: np.ndarray
    stressed: np.ndarray
    kind: str  # "greenhouse" for the camera frames, or the leaf's symptom family

    @property
    def has_stress(self) -> bool:
        count = int(self.stressed.sum())
        return count >= max(MIN_STRESSED_PX, MIN_STRESSED_SHARE * int(self.plant.sum()))


@dataclass(frozen=True)
class Scores:
    """How a mask agrees with a reference."""

    iou: float
    precision: float
    recall: float
    stressed_recall: float  # nan when the reference has too little stressed tissue


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union; 1.0 when both are empty."""
    union = int((mask | truth).sum())
    return float((mask & truth).sum()) / union if union else 1.0


def precision(mask: np.ndarray, truth: np.ndarray) -> float:
    """Share of the mask that is plant; 1.0 for an empty mask (it claims nothing wrong)."""
    taken = int(mask.sum())
    return float((mask & truth).sum()) / taken if taken else 1.0


def recall(mask: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true pixels the mask keeps; 1.0 when there are none."""
    total = int(truth.sum())
    return float((mask & truth).sum()) / total if total else 1.0


def score(mask: np.ndarray, ref: Reference) -> Scores:
    """All scores of ``mask`` against ``ref``."""
    stressed = recall(mask, ref.stressed) if ref.has_stress else float("nan")
    return Scores(iou(mask, ref.plant), precision(mask, ref.plant), recall(mask, ref.plant),
                  stressed)


def stressed_pixels(rgb: np.ndarray, plant: np.ndarray) -> np.ndarray:
    """Yellow and brown pixels inside ``plant``: the tissue the ``yellow_fraction``
    and ``brown_fraction`` signals exist to measure (their default hue bins).

    Nearly black lesions are not counted: their hue is noise, and dark green
    tissue in a leaf's own shade would be counted with them.  Nor is the plant's
    outermost pixel ring: an edge pixel mixes leaf with the background (green
    with brown soil looks "brown"), which is not stress."""
    value = rgb.max(axis=2)
    delta = value - rgb.min(axis=2)
    sat = delta / np.maximum(value, 1e-6)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.maximum(delta, 1e-6)
    hue = np.where(value == red, 60 * (green - blue) / safe,
                   np.where(value == green, 60 * (2 + (blue - red) / safe),
                            60 * (4 + (red - green) / safe))) % 360
    warm = (hue < _STRESS_HUE_DEG) | (hue >= _STRESS_RED_DEG)
    inner = ndi.binary_erosion(plant, border_value=1)
    return inner & warm & (sat >= _MIN_SATURATION) & (value >= _MIN_VALUE)


def _mask(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("1"), dtype=bool)


def _leaf(file: str) -> np.ndarray:
    with Image.open(REAL / "leaves-pv" / file) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def _build(name: str, rgb: np.ndarray, kind: str) -> Reference:
    plant = _mask(HERE / f"{name}.plant.png")
    if plant.shape != rgb.shape[:2]:
        raise ValueError(f"reference {name}: mask {plant.shape} does not match photo {rgb.shape}")
    for arr in (rgb, plant):
        arr.setflags(write=False)
    stressed = stressed_pixels(rgb, plant)
    stressed.setflags(write=False)
    return Reference(name, rgb, plant, stressed, kind)


GREENHOUSE = ("leaves_16mp", "arabidopsis_tray")


@cache
def reference(name: str) -> Reference:
    """One reference by name (a greenhouse photo's stem or a leaf's name in ``leaves.csv``)."""
    if name in GREENHOUSE:
        return _build(name, np.array(photo(f"{name}.jpg")), "greenhouse")
    for row in leaf_rows():
        if row["name"] == name:
            return _build(name, _leaf(row["file"]), row["symptom_family"])
    raise KeyError(f"no reference mask named {name!r} in {HERE}")


def leaf_rows() -> list[dict[str, str]]:
    """The leaves-pv leaves that have a reference: name, file, crop, symptom_family."""
    with LEAVES.open() as fh:
        return list(csv.DictReader(fh))


def names() -> list[str]:
    """Every reference's name: the greenhouse photos first, then the leaves."""
    return [*GREENHOUSE, *(row["name"] for row in leaf_rows())]


def references() -> Iterator[Reference]:
    for name in names():
        yield reference(name)
