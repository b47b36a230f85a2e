"""The generated data sets: train, validation, calibration and held-out test, split by seed.

Each set comes from its own generator seed, and ``assert_disjoint`` checks by content that
no held-out crop was also seen in training or calibration. Crops go through the edge's
``preprocess`` so the model is trained on exactly what the device feeds it. No torch here:
the benchmark and the evaluation use this module without the training extra.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fieldagent.inference.preprocess import INPUT_SIZE, preprocess
from fieldagent.synth import labelled_crops

# One generator seed per set. Tests of the shipped model use other seeds again.
TRAIN_SEED, VAL_SEED, CALIB_SEED, TEST_SEED = 1101, 2202, 3303, 4404


@dataclass(frozen=True)
class Split:
    """One data set, already preprocessed: ``x`` float32 (N, 3, 64, 64), ``y`` int64 (N,)."""

    name: str
    seed: int
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]

    @property
    def digest(self) -> str:
        """sha256 of the inputs and labels: names the data a model was trained on."""
        h = hashlib.sha256(self.x.tobytes())
        h.update(self.y.tobytes())
        return h.hexdigest()


def make_split(name: str, n: int, seed: int) -> Split:
    """Generate ``n`` labelled crops with ``seed`` and preprocess them like the device does."""
    crops, labels = labelled_crops(n, seed=seed)
    x = preprocess(crops, INPUT_SIZE)
    return Split(name, seed, x, np.asarray(labels, np.int64))


def assert_disjoint(*splits: Split) -> None:
    """Raise ``ValueError`` if any two sets share a crop (a leak would flatter the metrics)."""
    seen: dict[bytes, str] = {}
    for split in splits:
        for row in split.x:
            key = hashlib.sha256(row.tobytes()).digest()
            owner = seen.setdefault(key, split.name)
            if owner != split.name:
                raise ValueError(f"the {owner} and {split.name} sets share a crop; "
                                 "use generator seeds that do not overlap")


def data_hash(*splits: Split) -> str:
    """A short hash over all sets, for the model version (``0.1.0+synth.<hash>``)."""
    h = hashlib.sha256()
    for split in splits:
        h.update(split.digest.encode())
    return h.hexdigest()[:8]


def class_counts(split: Split, n_classes: int) -> list[int]:
    """How many crops of each class a set holds (reported in the manifest)."""
    return [int(c) for c in np.bincount(split.y, minlength=n_classes)]
