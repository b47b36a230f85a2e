"""The data set of ``cloudjobs train``: labelled uploads from the lake plus generated crops.

* **Uploaded crops** are the lake images an agronomist labelled (``labels.py``). They are
  decoded with the device's decoder and resized with the device's ``preprocess``, so the
  model is trained on exactly what the agent will feed it.
* **Split by key.** ``split_of(key)`` hashes the object key with a fixed salt: a key lands
  in train, validation or test the same way in every run, whatever else the lake holds, so
  labelling more images never moves an old test image into training.
* **Generated crops** (``fieldagent.synth.labelled_crops``) bootstrap the model and balance
  the classes: the training budget goes to the classes the uploads have fewest of.
  Validation and test also get a balanced generated part, each from its own seed.
* **Calibration** for INT8 uses sampled uploads (``raw/image``, train split, not skipped,
  labelled or not) and tops them up with generated crops only when there are too few.
* **Snapshot hash**: SHA-256 over the sorted ``key, label, sha256(bytes)`` lines of a part;
  it names the data a model was trained on and changes when one label or one image does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from cloudjobs.training.data import Split, assert_disjoint
from cloudjobs.training.errors import TrainingError
from cloudjobs.training.labels import SKIP, LabelRow
from cloudjobs.training.lake import LakeImage
from fieldagent.decode import decode
from fieldagent.errors import ImageRejected
from fieldagent.inference.preprocess import INPUT_SIZE, preprocess
from fieldagent.synth import MODEL_CLASSES, labelled_crops

log = logging.getLogger(__name__)

SplitName = Literal["train", "val", "test"]
# Part of the contract "a key stays in its split forever": change the salt or the fractions
# and every lake's test set is reshuffled (bump the -v suffix only knowingly).
SPLIT_SALT = "fieldagent-stress-split-v1"
TEST_FRACTION, VAL_FRACTION = 0.2, 0.1
# Generator seeds of the generated parts (train seeds are SYNTH_TRAIN_SEED + class index).
SYNTH_TRAIN_SEED, SYNTH_VAL_SEED, SYNTH_TEST_SEED, SYNTH_CALIB_SEED = 5101, 6202, 7303, 8404
UPLOADED, SYNTHETIC = "uploaded", "synthetic"
UNLABELLED = -1


@dataclass(frozen=True)
class DatasetConfig:
    """How much generated data to add and how the calibration set is drawn."""

    synthetic: int = 4000  # generated training crops; validation and test get a fifth each
    calib_max: int = 256  # calibration crops drawn from the uploads at most
    calib_min: int = 32  # fewer uploaded calibration crops than this: top up with generated
    max_side: int = 1024  # the decoder's analysis size (the agent's analysis.max_side)
    classes: tuple[str, ...] = MODEL_CLASSES


@dataclass(frozen=True)
class Item:
    """One crop of the data set: where it comes from and what it is labelled."""

    key: str  # the object key, or synthetic/seed=<seed>/<class>/<index>
    label: int  # index into the classes; UNLABELLED for calibration-only uploads
    source: str  # UPLOADED or SYNTHETIC
    sha256: str  # of the object's bytes (uploads) or of the crop's pixels (generated)
    site: str | None = None


@dataclass(frozen=True)
class Part:
    """One set (train, validation, test, calibration): its items and their model inputs."""

    name: str
    items: tuple[Item, ...]
    x: npt.NDArray[np.float32]  # (N, 3, 64, 64), preprocessed like on the device

    @property
    def y(self) -> npt.NDArray[np.int64]:
        """Labels, int64 (N,)."""
        return np.array([item.label for item in self.items], np.int64)

    @property
    def sources(self) -> npt.NDArray[np.str_]:
        """Source of each row, for metrics by source."""
        return np.array([item.source for item in self.items])

    def as_split(self) -> Split:
        """The training loop's view (inputs and labels only)."""
        return Split(self.name, 0, self.x, self.y)

    def counts(self, classes: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """Crops per source and class."""
        out: dict[str, dict[str, int]] = {}
        for item in self.items:
            per_class = out.setdefault(item.source, dict.fromkeys(classes, 0))
            per_class[classes[item.label]] += 1
        return out


@dataclass(frozen=True)
class Dataset:
    """Everything the job trains, validates, calibrates and evaluates on."""

    train: Part
    val: Part
    test: Part
    calib: Part
    classes: tuple[str, ...]
    skipped: int  # keys labelled "skip"
    unlabelled: int  # images in the lake with no label (may still calibrate)
    duplicates: tuple[str, ...]  # labelled keys dropped: same bytes as an earlier key

    def snapshot_sha256(self) -> str:
        """The training set's data snapshot (see ``snapshot_sha256``)."""
        return snapshot_sha256(self.train.items, self.classes)

    def heldout_sha256(self) -> str:
        """The same over validation and test: changes when the yardstick changes."""
        return snapshot_sha256(self.val.items + self.test.items, self.classes)


def split_of(key: str) -> SplitName:
    """The split a key belongs to, forever: a pure function of the key and ``SPLIT_SALT``."""
    u = _unit(f"{SPLIT_SALT}:{key}")
    if u < TEST_FRACTION:
        return "test"
    return "val" if u < TEST_FRACTION + VAL_FRACTION else "train"


def snapshot_sha256(items: Iterable[Item], classes: tuple[str, ...]) -> str:
    """SHA-256 over the sorted ``key<TAB>label<TAB>sha256`` lines of ``items``."""
    lines = sorted(f"{i.key}\t{classes[i.label]}\t{i.sha256}\n" for i in items)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def balance(have: Sequence[int], budget: int) -> list[int]:
    """How many generated crops each class gets so the totals end as even as possible.

    Water-filling: each crop goes to the class with the fewest so far (lowest index on ties).
    """
    extra = [0] * len(have)
    for _ in range(budget):
        i = min(range(len(have)), key=lambda k: (have[k] + extra[k], k))
        extra[i] += 1
    return extra


def build_dataset(images: Sequence[LakeImage], labels: Sequence[LabelRow],
                  cfg: DatasetConfig) -> Dataset:
    """Load the labelled uploads, add generated crops, and split; see the module docstring."""
    by_key = {image.key: image for image in images}
    used = [row for row in sorted(labels, key=lambda r: r.key) if row.label != SKIP]
    uploads, duplicates = _load_uploads(used, by_key, cfg)
    split = {name: [u for u in uploads if split_of(u[0].key) == name]
             for name in ("train", "val", "test")}
    have = [sum(1 for item, _ in split["train"] if item.label == k)
            for k in range(len(cfg.classes))]
    n_held = cfg.synthetic // 5
    train = _merge("train", split["train"], _synthetic_balanced(balance(have, cfg.synthetic), cfg))
    val = _merge("validation", split["val"], _synthetic(n_held, SYNTH_VAL_SEED, cfg))
    test = _merge("test", split["test"], _synthetic(n_held, SYNTH_TEST_SEED, cfg))
    skip_keys = {row.key for row in labels if row.label == SKIP}
    held_out = {item.sha256 for item in val.items + test.items}
    calib = _calibration(images, skip_keys | set(duplicates), held_out, cfg)
    _check_sizes(train, val, test)
    assert_disjoint(train.as_split(), val.as_split(), test.as_split())
    assert_disjoint(calib.as_split(), test.as_split())
    labelled = {row.key for row in labels}
    return Dataset(train, val, test, calib, cfg.classes, skipped=len(skip_keys),
                   unlabelled=sum(1 for image in images if image.key not in labelled),
                   duplicates=tuple(duplicates))


Loaded = tuple[Item, npt.NDArray[np.float32]]


def _load_uploads(rows: Sequence[LabelRow], by_key: dict[str, LakeImage],
                  cfg: DatasetConfig) -> tuple[list[Loaded], list[str]]:
    """Decode every labelled upload; drop exact byte duplicates of an earlier key.

    A frozen camera uploads the same bytes under several keys; keeping both could put one
    image in train and its twin in test.
    """
    loaded: list[Loaded] = []
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    problems: list[str] = []
    for row in rows:
        image = by_key[row.key]
        try:
            digest, x = load_crop(image, cfg.max_side)
        except ImageRejected as exc:
            problems.append(f"line {row.line}: {row.key}: {exc}; label it skip or remove it")
            continue
        if digest in seen:
            log.info("%s has the same bytes as %s; using it once", row.key, seen[digest])
            duplicates.append(row.key)
            continue
        seen[digest] = row.key
        label = cfg.classes.index(row.label)
        loaded.append((Item(row.key, label, UPLOADED, digest, image.site), x))
    if problems:
        raise TrainingError("labelled images that cannot be read:\n" + "\n".join(problems))
    return loaded, duplicates


def load_crop(image: LakeImage, max_side: int) -> tuple[str, npt.NDArray[np.float32]]:
    """sha256 of the object's bytes and its model input, decoded and resized as on the device."""
    digest = hashlib.sha256(image.path.read_bytes()).hexdigest()
    frame = decode(image.path, max_side=max_side)
    return digest, preprocess([frame.rgb], INPUT_SIZE)[0]


def _calibration(images: Sequence[LakeImage], excluded: set[str], held_out: set[str],
                 cfg: DatasetConfig) -> Part:
    """Sampled uploads of the train split in a stable pseudo-random order, topped up if few.

    An image whose bytes are also a validation or test image is left out: calibration must
    not see the yardstick, even under another key.
    """
    candidates = [i for i in images if i.kind == "image" and i.key not in excluded
                  and split_of(i.key) == "train"]
    candidates.sort(key=lambda i: _unit(f"{SPLIT_SALT}:calibration:{i.key}"))
    loaded: list[Loaded] = []
    for image in candidates:
        if len(loaded) == cfg.calib_max:
            break
        try:
            digest, x = load_crop(image, cfg.max_side)
        except ImageRejected as exc:
            log.warning("calibration skips %s: %s", image.key, exc)
            continue
        if digest not in held_out:
            loaded.append((Item(image.key, UNLABELLED, UPLOADED, digest, image.site), x))
    top_up = cfg.calib_min - len(loaded) if len(loaded) < cfg.calib_min else 0
    return _merge("calibration", loaded, _synthetic(top_up, SYNTH_CALIB_SEED, cfg))


def _synthetic(n: int, seed: int, cfg: DatasetConfig) -> list[Loaded]:
    """``n`` generated crops balanced over the classes, from ``seed``."""
    if n <= 0:
        return []
    crops, labels = labelled_crops(n, seed=seed, classes=cfg.classes)
    return _generated(crops, [int(k) for k in labels], seed, cfg)


def _synthetic_balanced(per_class: Sequence[int], cfg: DatasetConfig) -> list[Loaded]:
    """``per_class[k]`` generated crops of class ``k``, each class from its own seed."""
    out: list[Loaded] = []
    for k, n in enumerate(per_class):
        if n:
            seed = SYNTH_TRAIN_SEED + k
            crops, _ = labelled_crops(n, seed=seed, classes=(cfg.classes[k],))
            out += _generated(crops, [k] * n, seed, cfg)
    return out


def _generated(crops: Sequence[npt.NDArray[np.uint8]], labels: Sequence[int], seed: int,
               cfg: DatasetConfig) -> list[Loaded]:
    x = preprocess(crops, INPUT_SIZE)
    items = []
    for i, (crop, k) in enumerate(zip(crops, labels, strict=True)):
        h = hashlib.sha256(f"{crop.shape}".encode())
        h.update(crop.tobytes())
        key = f"synthetic/seed={seed}/{cfg.classes[k]}/{i:05d}"
        items.append((Item(key, k, SYNTHETIC, h.hexdigest()), x[i]))
    return items


def _merge(name: str, *groups: list[Loaded]) -> Part:
    rows = [row for group in groups for row in group]
    x = (np.stack([x for _, x in rows]) if rows
         else np.zeros((0, 3, INPUT_SIZE, INPUT_SIZE), np.float32))
    return Part(name, tuple(item for item, _ in rows), x)


def _check_sizes(train: Part, val: Part, test: Part) -> None:
    for part in (train, val, test):
        if not part.items:
            raise TrainingError(
                f"the {part.name} set is empty: label more uploads (about "
                f"{TEST_FRACTION:.0%} of keys go to test and {VAL_FRACTION:.0%} to validation) "
                "or add generated crops with --synthetic N")


def _unit(text: str) -> float:
    """A number in [0, 1) from SHA-256: uniform, stable across processes and versions."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2.0**64
