"""``cloudjobs train-bootstrap``: the one command that reproduces the shipped stress model.

    python -m cloudjobs.training.bootstrap --out fieldagent/models/stress

Grounded on real tissue: the labelled PlantVillage leaves (``--leaves``, CC BY-SA 3.0), each
also re-staged as greenhouse-style views, plus synthetic crops from ``fieldagent.synth``
(the only source of wilting). In order:

1. leave-one-crop-out: for tomato, corn and grape, train on the two others + synthetic and
   test on every photo of the third, beside the agent's colour-only score (yellow + brown);
2. the shipped model: every crop, photos split by a hash of their name; temperature and
   abstention (an out-of-distribution threshold on the penultimate features) are fitted on
   the validation split only;
3. export FP32 ONNX (outputs ``logits`` and ``features``), quantize INT8 (static, QDQ,
   U8S8), and compare both on the real held-out photos: INT8 ships only if it agrees;
4. the colour gate: the model may override the colour signals only if it beat them on
   every held-out crop and on the held-out photos (``overrides_colour_signals``);
5. write the files, ``manifest.json``, ``MODEL_CARD.md`` and ``reliability.png``.

If INT8 loses more than ``--max-int8-drop`` accuracy (or agreement) against FP32 on the real
held-out photos it refuses, and ``--out`` is untouched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cloudjobs import __version__
from cloudjobs.training import data as ds
from cloudjobs.training import grounded as gr
from cloudjobs.training import leaves as lv
from cloudjobs.training.artifacts import (
    FP32_FILE,
    INT8_FILE,
    contract_fields,
    publish,
    sources_digest,
    write_manifest,
)
from cloudjobs.training.evaluate import int8_gate
from cloudjobs.training.export import check_export, export_onnx
from cloudjobs.training.model import WithFeatures, count_parameters
from cloudjobs.training.outliers import outlier_inputs
from cloudjobs.training.quantize import quantize_int8
from cloudjobs.training.realeval import beats_colour
from cloudjobs.training.stress_card import CARD_FILE, RELIABILITY_FILE, write_card
from cloudjobs.training.train import TrainConfig
from cloudjobs.training.variants import compare_on_real
from fieldagent.inference.preprocess import INPUT_SIZE
from fieldagent.synth import MODEL_CLASSES
from fieldcontract.manifest import MODEL_MANIFEST

EXIT_REFUSED = 3
OUTPUTS = ("logits", "features")


@dataclass(frozen=True)
class Sizes:
    """How many synthetic crops each set holds, greenhouse views per real photo, epochs."""

    train: int
    val: int
    calib: int
    views: int
    epochs: int
    real_every: int  # use every n-th real photo (1 = all)
    outliers: int  # outlier-exposure images (see outliers.py)


FULL = Sizes(train=1600, val=400, calib=128, views=3, epochs=12, real_every=1, outliers=900)
QUICK = Sizes(train=96, val=48, calib=32, views=1, epochs=2, real_every=8, outliers=60)
OUTLIER_WEIGHT = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; defaults reproduce the shipped model."""
    ap = argparse.ArgumentParser(prog="cloudjobs train-bootstrap",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, required=True, help="folder to write the model into")
    ap.add_argument("--leaves", type=Path, default=lv.default_leaves_dir(),
                    help="the labelled real leaves (leaves-pv folder with labels.csv)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny data, few epochs, one held-out crop (tests)")
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"training epochs (default {FULL.epochs}; {QUICK.epochs} with --quick)")
    ap.add_argument("--n-train", type=int, default=None,
                    help=f"synthetic training crops (default {FULL.train})")
    ap.add_argument("--seed", type=int, default=0, help="training seed (weights, shuffling)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; part of the recipe, change it and the weights change")
    ap.add_argument("--max-int8-drop", type=float, default=0.02,
                    help="refuse INT8 if its real held-out accuracy (or its agreement with "
                         "FP32) is lower than FP32's by more")
    ap.add_argument("--no-per-channel", dest="per_channel", action="store_false",
                    help="per-tensor weight scales instead of per-channel")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the whole recipe; 0 = written, 3 = INT8 refused (nothing written)."""
    args = parse_args(argv)
    started = time.perf_counter()
    sizes = QUICK if args.quick else FULL
    real, synth = build_data(args, sizes)
    cfg = train_config(args, sizes)
    held_out = lv.CROPS[:1] if args.quick else lv.CROPS
    outliers = outlier_inputs(sizes.outliers)
    loco = {c: gr.run_fold(real, gr.loco_plan(real, c), synth, cfg, _say, outliers).metrics
            for c in held_out}
    final = gr.run_fold(real, gr.final_plan(real), synth, cfg, _say, outliers)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        variants = export_and_quantize(final, work, real, synth, args.per_channel)
        refusal = int8_gate(variants["fp32"]["accuracy"], variants["int8"]["accuracy"],
                            args.max_int8_drop)
        refusal = refusal or agreement_refusal(variants["int8"], args.max_int8_drop)
        if refusal:
            print(f"error: {refusal}; nothing was written to {args.out}", file=sys.stderr)
            return EXIT_REFUSED
        overrides = all(beats_colour(m) for m in loco.values()) and beats_colour(final.metrics)
        training = training_record(args, cfg, sizes, final, real, synth,
                                   time.perf_counter() - started)
        content = manifest(real, synth, final, loco, variants, overrides, training)
        write_manifest(work, content)
        write_card(work, content)
        publish(work, args.out, (FP32_FILE, INT8_FILE, RELIABILITY_FILE, CARD_FILE, MODEL_MANIFEST))
    _report(args.out, loco, variants, overrides)
    return 0


def train_config(args: argparse.Namespace, sizes: Sizes) -> TrainConfig:
    """Hyper-parameters: the defaults, or small batches and few epochs for ``--quick``."""
    batch_size = 16 if args.quick else TrainConfig.batch_size
    return TrainConfig(epochs=args.epochs or sizes.epochs, batch_size=batch_size,
                       seed=args.seed, threads=args.threads, outlier_weight=OUTLIER_WEIGHT)


def build_data(args: argparse.Namespace, sizes: Sizes) -> tuple[gr.RealSet, dict[str, ds.Split]]:
    """The real leaves (with views) and the synthetic sets, checked to share no crop."""
    real = gr.load_real(args.leaves, sizes.views, args.seed, sizes.real_every, log=_say)
    n_train = args.n_train or sizes.train
    _say(f"generating {n_train + sizes.val + sizes.calib} synthetic crops ...")
    synth = {
        "train": ds.make_split("train", n_train, ds.TRAIN_SEED),
        "val": ds.make_split("validation", sizes.val, ds.VAL_SEED),
        "calib": ds.make_split("calibration", sizes.calib, ds.CALIB_SEED),
    }
    ds.assert_disjoint(*synth.values())
    return real, synth


def export_and_quantize(final: gr.FoldResult, work: Path, real: gr.RealSet,
                        synth: dict[str, ds.Split], per_channel: bool) -> dict[str, Any]:
    """Write both ONNX files into ``work`` and compare them on the real held-out photos."""
    net = WithFeatures(final.model).eval()
    export_onnx(net, work / FP32_FILE, INPUT_SIZE, OUTPUTS)
    check_export(net, work / FP32_FILE, synth["val"].x[:64])
    plan = gr.final_plan(real)
    calib = np.concatenate([real.x[plan.train][::4], synth["calib"].x])
    quantize_int8(work / FP32_FILE, work / INT8_FILE, calib, scheme="u8s8",
                  per_channel=per_channel)
    variants = compare_on_real({"fp32": work / FP32_FILE, "int8": work / INT8_FILE},
                               real, plan.test, final.temperature, final.abstention)
    variants["int8"]["scheme"] = {"format": "QDQ", "activations": "uint8", "weights": "int8",
                                  "per_channel": per_channel, "calibration": "MinMax"}
    return variants


def agreement_refusal(int8: dict[str, Any], max_drop: float) -> str | None:
    """None when INT8 picks FP32's class on all but ``max_drop`` of the real photos."""
    agree = int8["agreement_with_fp32"]
    if agree >= 1.0 - max_drop - 1e-9:
        return None
    return (f"INT8 model refused: it agrees with FP32 on only {agree:.4f} of the real "
            f"held-out photos (needs {1 - max_drop:.4f}); check the calibration data")


def training_record(args: argparse.Namespace, cfg: TrainConfig, sizes: Sizes,
                    final: gr.FoldResult, real: gr.RealSet, synth: dict[str, ds.Split],
                    seconds: float) -> dict[str, Any]:
    """How the model was made: data, seeds, counts, hyper-parameters, learning curve."""
    plan = gr.final_plan(real)
    return {
        "data": {
            "real": {"source": "PlantVillage leaves (leaves-pv), CC BY-SA 3.0",
                     "photos": {k: len(getattr(plan, k)) for k in ("train", "val", "test")},
                     "by_crop_and_class": gr.counts(real),
                     "greenhouse_views_per_photo": sizes.views,
                     "every_nth_photo": sizes.real_every},
            "synthetic": {k: {"seed": s.seed, "n": len(s.y),
                              "class_counts": ds.class_counts(s, len(MODEL_CLASSES))}
                          for k, s in synth.items()},
        },
        "seeds": {"training": cfg.seed, "views": args.seed},
        "config": asdict(cfg),
        "quick": bool(args.quick),
        "parameters": count_parameters(final.model),
        "best_epoch": final.best_epoch,
        "history": final.history,
        "seconds": round(seconds, 1),
    }


def manifest(real: gr.RealSet, synth: dict[str, ds.Split], final: gr.FoldResult,
             loco: dict[str, dict[str, Any]], variants: dict[str, Any], overrides: bool,
             training: dict[str, Any]) -> dict[str, Any]:
    """The manifest minus the file entries (added by ``write_manifest``)."""
    # 0.1.x: newer than the synthetic-only 0.1.0 it replaces, older than any cloud release
    # (``cloudjobs train`` publishes 0.2.0 and up), so a device still takes those.
    version = f"0.1.1+real.{ds.data_hash(*synth.values())}{real_hash(real)}"
    return {
        **contract_fields(version, MODEL_CLASSES),
        "output": {"name": "logits", "features": "features",
                   "softmax": "applied by the runtime, after dividing by temperature"},
        "temperature": final.temperature,
        "temperature_fitted_on_validation": final.metrics["temperature_fitted_on_validation"],
        "abstain": final.abstention.to_dict(),
        "overrides_colour_signals": overrides,
        "colour_gate": {
            "rule": "the model may override the colour signals only if its healthy-vs-"
                    "diseased AUC is at least the colour score's on every held-out crop "
                    "and on the held-out photos",
            "colour_score": "yellow_fraction + brown_fraction inside the agent's plant mask",
            "held_out_crops": {c: {"auc_model": m["auc_model"], "auc_colour": m["auc_colour"]}
                               for c, m in loco.items()},
            "held_out_photos": {"auc_model": final.metrics["auc_model"],
                                "auc_colour": final.metrics["auc_colour"]},
        },
        "training": training,
        "metrics": {"leave_one_crop_out": loco, "held_out_real": variants,
                    "held_out_real_torch": final.metrics},
        "code_version": code_version(),
    }


def real_hash(real: gr.RealSet) -> str:
    """4 hex digits naming the real photos and views used."""
    import hashlib

    h = hashlib.sha256(real.x.tobytes())
    h.update(real.views.tobytes())
    return h.hexdigest()[:4]


def code_version() -> str:
    """cloudjobs version plus a hash of the training sources (what made these weights)."""
    return f"cloudjobs {__version__} training-src {sources_digest()}"


def _report(out: Path, loco: dict[str, dict[str, Any]], variants: dict[str, Any],
            overrides: bool) -> None:
    for crop, m in loco.items():
        _say(f"held-out {crop}: AUC model {m['auc_model']} vs colour {m['auc_colour']}, "
             f"ECE {m['ece_calibrated']}")
    for variant, m in variants.items():
        _say(f"{variant} on real held-out photos: accuracy {m['accuracy']:.4f}, AUC "
             f"{m['auc_model']} (colour {m['auc_colour']}), {m['bytes'] / 1024:.0f} KiB")
    _say(f"may override the colour signals: {overrides}")
    _say(f"wrote {FP32_FILE}, {INT8_FILE}, {CARD_FILE} and {MODEL_MANIFEST} to {out}")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
