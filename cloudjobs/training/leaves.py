"""Real labelled leaves (PlantVillage, ``leaves-pv``) for training and judging the stress model.

``labels.csv`` (``file,crop,condition,health,symptom_family``) maps onto the model's classes
through the symptom family: healthy -> healthy, chlorosis -> chlorosis, necrosis -> necrosis.
There is no real wilting photo; the wilting class comes from synthetic crops only.

Each photo gets a fixed split from a hash of its file name (``split_of``): the same photo is
always train, validation or test, whoever loads it and whatever else is in the folder. The
leaf mask comes from the agent's own plant segmentation (it keeps yellow and brown tissue), so
the lab's grey background can be swapped for greenhouse surfaces (``leaves_augment``) and the
colour-only score is the one the agent computes.
No torch here: the tests and the benchmark use this module without the training extra.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage as ndi

from fieldagent.roi.config import SegmentationConfig
from fieldagent.roi.segment import segment_plants
from fieldagent.signals.compute import compute_signals
from fieldagent.synth import MODEL_CLASSES

LABELS = "labels.csv"
SYMPTOM_TO_CLASS = {"healthy": "healthy", "chlorosis": "chlorosis", "necrosis": "necrosis"}
CROPS = ("tomato", "corn", "grape")
TEST_SHARE, VAL_SHARE = 0.2, 0.15  # of each photo's hash range; the rest is training


def default_leaves_dir() -> Path:
    """``shared/data/real/leaves-pv`` beside the repository (where the team keeps it)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "leaves-pv"


@dataclass(frozen=True)
class LeafPhoto:
    """One labelled photo: its file (relative to the folder), crop and model class index."""

    file: str
    crop: str
    condition: str
    label: int

    @property
    def diseased(self) -> bool:
        """True for any class but healthy."""
        return self.label != 0


def read_labels(folder: Path, classes: tuple[str, ...] = MODEL_CLASSES) -> list[LeafPhoto]:
    """The photos listed in ``folder/labels.csv``; ``ValueError`` for a family with no class."""
    path = folder / LABELS
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: the real leaf labels are missing; pass --leaves with "
                                "the leaves-pv folder (shared/data/real/README.md)") from None
    photos = []
    for i, row in enumerate(rows, start=2):
        family = row["symptom_family"]
        if SYMPTOM_TO_CLASS.get(family) not in classes:
            raise ValueError(f"{path}:{i}: symptom family {family!r} maps to no model class "
                             f"(known: {sorted(SYMPTOM_TO_CLASS)})")
        photos.append(LeafPhoto(row["file"], row["crop"], row["condition"],
                                classes.index(SYMPTOM_TO_CLASS[family])))
    return photos


def split_of(file: str) -> str:
    """``train``, ``val`` or ``test`` from the sha256 of the file name: stable and disjoint."""
    u = int.from_bytes(hashlib.sha256(file.encode()).digest()[:8], "big") / 2.0**64
    return "test" if u < TEST_SHARE else "val" if u < TEST_SHARE + VAL_SHARE else "train"


def load_rgb(folder: Path, photo: LeafPhoto) -> npt.NDArray[np.uint8]:
    """The photo as uint8 RGB; a missing or broken file raises ``OSError`` naming it."""
    path = folder / photo.file
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise OSError(f"{path}: cannot read this leaf photo ({exc})") from exc


# The cut-out that is pasted onto greenhouse backgrounds: the agent's segmenter without
# growth into non-green tissue. On these lab photos growth also takes the leaf's cast
# shadow on the card (tomato), which the views would then paste along; trained on grown
# masks (one run each) the model ranked unseen corn at AUC 0.52 instead of 0.72 and
# unseen grape no better than colour. Lesions inside the leaf still come back by filling.
CUTOUT = SegmentationConfig(grow_rounds=0)


def leaf_mask(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """The leaf, from the agent's segmentation (:data:`CUTOUT`) with lesions inside it
    filled in."""
    mask = segment_plants(rgb.astype(np.float32) / np.float32(255.0), config=CUTOUT)
    filled: npt.NDArray[np.bool_] = ndi.binary_fill_holes(mask)
    return filled


def colour_score(rgb: npt.NDArray[np.uint8], mask: npt.NDArray[np.bool_] | None = None) -> float:
    """The colour-only stress score: yellow + brown fractions inside the agent's plant mask.

    What the agent would say from colour alone (no model); 0 when no plant is found.
    """
    f = rgb.astype(np.float32) / np.float32(255.0)
    plant = segment_plants(f) if mask is None else mask
    s = compute_signals(f, plant)
    score = s["yellow_fraction"] + s["brown_fraction"]
    return float(score) if np.isfinite(score) else 0.0
