"""Training on real leaves plus synthetic crops, judged leave-one-crop-out.

``load_real`` reads the labelled leaves once: each photo preprocessed as it is, plus a few
greenhouse-style views (``greenhouse_view``) and the agent's colour-only score. A ``Plan``
says which photos train, validate and test one model:

* ``loco_plan(crop)``: train and validate on the two other crops, test on ``crop`` (all its
  photos): how the model does on a crop it has never seen;
* ``final_plan()``: every crop, split per photo by a hash of its name (``split_of``).

``run_fold`` trains one model on the plan's real photos (original and greenhouse views)
plus synthetic crops, fits the temperature and the abstention on validation data only, and
measures the test photos beside the colour score (``realeval.real_metrics``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from cloudjobs.training import leaves as lv
from cloudjobs.training.calibration import fit_temperature
from cloudjobs.training.data import Split
from cloudjobs.training.greenhouse_view import greenhouse_view
from cloudjobs.training.model import StressNet
from cloudjobs.training.probes import non_plant_images
from cloudjobs.training.realeval import probe_abstention, real_metrics
from cloudjobs.training.train import TrainConfig, train
from fieldagent.inference.abstain import Abstention, fit_abstention, with_threshold
from fieldagent.inference.preprocess import INPUT_SIZE, preprocess
from fieldagent.inference.session import softmax
from fieldagent.synth import MODEL_CLASSES

OOD_QUANTILE = 0.99  # of validation distances: about 1 % of in-distribution crops abstain
# The minimum calibrated confidence is the 2nd percentile of validation confidences (at
# least 0.45): outlier exposure leaves non-plant inputs near-uniform, far below it.
CONFIDENCE_QUANTILE, MIN_CONFIDENCE = 0.02, 0.45
PROBE_SEED = 5505


@dataclass(frozen=True)
class RealSet:
    """The labelled real leaves, ready for training: arrays aligned with ``photos``."""

    photos: tuple[lv.LeafPhoto, ...]
    x: npt.NDArray[np.float32]       # (N, 3, S, S) the photos as they are
    views: npt.NDArray[np.float32]   # (N, V, 3, S, S) greenhouse-style views
    y: npt.NDArray[np.int64]
    colour: npt.NDArray[np.float64]  # yellow + brown fraction, the agent's colour-only score
    crops: npt.NDArray[np.str_]


@dataclass(frozen=True)
class Plan:
    """Indices into a ``RealSet``: which photos train, validate and test one model."""

    name: str
    train: npt.NDArray[np.int64]
    val: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]


@dataclass(frozen=True)
class FoldResult:
    """One trained model with its calibration, abstention and held-out measurements."""

    model: StressNet
    temperature: float
    abstention: Abstention
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    best_epoch: int


def load_real(folder: Path, views: int, seed: int, every: int = 1,
              log: Callable[[str], None] = print) -> RealSet:
    """Read, mask, score and re-stage every ``every``-th labelled photo (deterministic)."""
    photos = tuple(lv.read_labels(folder))[::every]
    log(f"reading {len(photos)} real leaves from {folder} ({views} greenhouse views each) ...")
    originals: list[npt.NDArray[np.uint8]] = []
    staged: list[npt.NDArray[np.uint8]] = []
    colour: list[float] = []
    for i, photo in enumerate(photos):
        rgb = lv.load_rgb(folder, photo)
        mask = lv.leaf_mask(rgb)
        colour.append(lv.colour_score(rgb))
        rng = np.random.default_rng([seed, i])
        originals.append(rgb)
        staged.extend(greenhouse_view(rgb, mask, rng) for _ in range(views))
    x = preprocess(originals, INPUT_SIZE)
    v = preprocess(staged, INPUT_SIZE).reshape(len(photos), views, 3, INPUT_SIZE, INPUT_SIZE)
    return RealSet(photos, x, v, np.array([p.label for p in photos], np.int64),
                   np.array(colour, np.float64), np.array([p.crop for p in photos]))


def counts(real: RealSet) -> dict[str, dict[str, int]]:
    """Photos per crop and model class (for the manifest and the card)."""
    out: dict[str, dict[str, int]] = {}
    for crop, label in zip(real.crops.tolist(), real.y.tolist(), strict=True):
        per = out.setdefault(crop, {})
        per[MODEL_CLASSES[label]] = per.get(MODEL_CLASSES[label], 0) + 1
    return out


def loco_plan(real: RealSet, held_out: str) -> Plan:
    """Test on every photo of ``held_out``; train/validate on the other crops' photos."""
    split = np.array([lv.split_of(p.file) for p in real.photos])
    others = real.crops != held_out
    return Plan(f"held-out {held_out}", np.flatnonzero(others & (split != "val")),
                np.flatnonzero(others & (split == "val")), np.flatnonzero(~others))


def final_plan(real: RealSet) -> Plan:
    """Every crop, each photo in the split its name hashes to."""
    split = np.array([lv.split_of(p.file) for p in real.photos])
    return Plan("all crops", *(np.flatnonzero(split == s) for s in ("train", "val", "test")))


def assemble(real: RealSet, idx: npt.NDArray[np.int64], synth: Split, name: str) -> Split:
    """Real photos at ``idx`` (originals and views) followed by the synthetic crops."""
    v = real.views[idx]
    x = np.concatenate([real.x[idx], v.reshape(-1, *v.shape[2:]), synth.x])
    y = np.concatenate([real.y[idx], np.repeat(real.y[idx], v.shape[1]), synth.y])
    return Split(name, synth.seed, np.ascontiguousarray(x, np.float32), y.astype(np.int64))


@torch.no_grad()
def forward(model: StressNet, x: npt.NDArray[np.float32],
            batch: int = 256) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Logits and penultimate features of ``x`` (eval mode)."""
    model.eval()
    logits, feats = [], []
    for i in range(0, len(x), batch):
        f = model.embed(torch.from_numpy(x[i:i + batch]))
        feats.append(f.numpy())
        logits.append(model.head(f).numpy())
    return (np.concatenate(logits).astype(np.float64), np.concatenate(feats).astype(np.float64))


def run_fold(real: RealSet, plan: Plan, synth: dict[str, Split], cfg: TrainConfig,
             log: Callable[[str], None] = print,
             outliers: npt.NDArray[np.float32] | None = None) -> FoldResult:
    """Train on the plan, calibrate and fit abstention on its validation set, test on real."""
    tr = assemble(real, plan.train, synth["train"], "train")
    va = assemble(real, plan.val, synth["val"], "validation")
    log(f"{plan.name}: training on {len(tr.y)} crops ({len(plan.train)} real photos x "
        f"{1 + real.views.shape[1]} views + {len(synth['train'].y)} synthetic) ...")
    result = train(tr, va, cfg, len(MODEL_CLASSES), log=log, outliers=outliers)
    model = result.model
    _, tr_feats = forward(model, tr.x)
    va_logits, va_feats = forward(model, va.x)
    temperature = fitted = fit_temperature(va_logits, va.y)
    va_conf = softmax(va_logits / temperature).max(1)
    min_conf = max(MIN_CONFIDENCE, float(np.quantile(va_conf, CONFIDENCE_QUANTILE)))
    ab = fit_abstention(tr_feats, tr.y, len(MODEL_CLASSES), features_output="features",
                        min_confidence=round(min_conf, 4))
    ab = with_threshold(ab, va_feats, OOD_QUANTILE)
    te_logits, te_feats = forward(model, real.x[plan.test])
    metrics = real_metrics(te_logits, ab.scores(te_feats), real.y[plan.test],
                           real.colour[plan.test], MODEL_CLASSES, temperature, ab)
    metrics["temperature"] = temperature
    metrics["temperature_fitted_on_validation"] = fitted
    metrics["non_plant_abstained"] = probes_with(model, temperature, ab)
    log(f"{plan.name}: AUC model {metrics['auc_model']} vs colour {metrics['auc_colour']}, "
        f"recall {metrics['recall']}, ECE {metrics['ece_raw']} -> {metrics['ece_calibrated']} "
        f"(T={temperature}), abstained {metrics['abstained']}, non-plant abstained "
        f"{metrics['non_plant_abstained']['all']}")
    return FoldResult(model, temperature, ab, metrics, result.history, result.best_epoch)


def probes_with(model: StressNet, temperature: float, ab: Abstention,
                per_kind: int = 20) -> dict[str, float]:
    """Share of generated non-plant images this model would call ``unknown``."""
    probes = non_plant_images(per_kind, seed=PROBE_SEED)
    logits, feats = forward(model, preprocess([img for _, img in probes], INPUT_SIZE))
    return probe_abstention(softmax(logits / temperature), ab.scores(feats),
                            [k for k, _ in probes], ab)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
