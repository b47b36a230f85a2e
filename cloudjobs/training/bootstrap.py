"""``cloudjobs train-bootstrap``: the one command that reproduces the shipped stress model.

    python -m cloudjobs.training.bootstrap --out fieldagent/models/stress

Generates crops (train / validation / calibration / held-out test, one seed each), trains
the small CNN, exports FP32 ONNX, quantizes INT8 (static, QDQ, U8S8), evaluates both on the
held-out set with ONNX Runtime and writes the files and ``manifest.json``. If INT8 loses
more than ``--max-int8-drop`` accuracy against FP32 it refuses, and ``--out`` is untouched.
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
import numpy.typing as npt

from cloudjobs import __version__
from cloudjobs.training import data as ds
from cloudjobs.training.artifacts import (
    FP32_FILE,
    INT8_FILE,
    contract_fields,
    publish,
    sources_digest,
    write_manifest,
)
from cloudjobs.training.evaluate import evaluate, int8_gate
from cloudjobs.training.export import check_export, export_onnx
from cloudjobs.training.model import StressNet, count_parameters
from cloudjobs.training.quantize import quantize_int8
from cloudjobs.training.train import TrainConfig, TrainResult, train
from fieldagent.inference.manifest import MANIFEST
from fieldagent.inference.preprocess import INPUT_SIZE
from fieldagent.synth import MODEL_CLASSES

EXIT_REFUSED = 3


@dataclass(frozen=True)
class Sizes:
    """How many crops each set holds."""

    train: int
    val: int
    calib: int
    test: int


FULL = Sizes(train=4000, val=600, calib=256, test=1000)
QUICK = Sizes(train=240, val=64, calib=32, test=96)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; defaults reproduce the shipped model."""
    ap = argparse.ArgumentParser(prog="cloudjobs train-bootstrap",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, required=True, help="folder to write the model into")
    ap.add_argument("--quick", action="store_true", help="tiny data, few epochs (tests)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="training epochs (default 12; 6 with --quick)")
    ap.add_argument("--n-train", type=int, default=None,
                    help=f"training crops (default {FULL.train}; {QUICK.train} with --quick)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (weights, shuffling)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; part of the recipe, change it and the weights change")
    ap.add_argument("--max-int8-drop", type=float, default=0.02,
                    help="refuse INT8 if its held-out accuracy is lower than FP32's by more")
    ap.add_argument("--no-per-channel", dest="per_channel", action="store_false",
                    help="per-tensor weight scales instead of per-channel")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the whole recipe; 0 = written, 3 = INT8 refused (nothing written)."""
    args = parse_args(argv)
    started = time.perf_counter()
    splits = build_data(args)
    cfg = train_config(args)
    _say(f"training on {len(splits['train'].y)} crops, {cfg.epochs} epochs ...")
    result = train(splits["train"], splits["val"], cfg, len(MODEL_CLASSES), log=_say)
    _say(f"best validation accuracy {result.best_val_accuracy:.4f} (epoch {result.best_epoch})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        metrics = export_and_quantize(result.model, work, splits, args.per_channel)
        refusal = int8_gate(metrics["fp32"]["accuracy"], metrics["int8"]["accuracy"],
                            args.max_int8_drop)
        if refusal:
            print(f"error: {refusal}; nothing was written to {args.out}", file=sys.stderr)
            return EXIT_REFUSED
        training = training_record(args, cfg, result, splits, time.perf_counter() - started)
        write_manifest(work, manifest(splits, metrics, training))
        publish(work, args.out)
    _report(args.out, metrics)
    return 0


def train_config(args: argparse.Namespace) -> TrainConfig:
    """Hyper-parameters: the defaults, or small batches and few epochs for ``--quick``."""
    epochs = args.epochs or (6 if args.quick else TrainConfig.epochs)
    batch_size = 16 if args.quick else TrainConfig.batch_size
    return TrainConfig(epochs=epochs, batch_size=batch_size, seed=args.seed,
                       threads=args.threads)


def build_data(args: argparse.Namespace) -> dict[str, ds.Split]:
    """The four sets, checked to share no crop."""
    sizes = QUICK if args.quick else FULL
    n_train = args.n_train or sizes.train
    _say(f"generating {n_train + sizes.val + sizes.calib + sizes.test} crops ...")
    splits = {
        "train": ds.make_split("train", n_train, ds.TRAIN_SEED),
        "val": ds.make_split("validation", sizes.val, ds.VAL_SEED),
        "calib": ds.make_split("calibration", sizes.calib, ds.CALIB_SEED),
        "test": ds.make_split("held-out test", sizes.test, ds.TEST_SEED),
    }
    ds.assert_disjoint(*splits.values())
    return splits


def calibration_inputs(split: ds.Split) -> npt.NDArray[np.float32]:
    """What the INT8 calibrator sees (a seam for tests that break quantization on purpose)."""
    return split.x


def export_and_quantize(model: StressNet, work: Path, splits: dict[str, ds.Split],
                        per_channel: bool) -> dict[str, dict[str, Any]]:
    """Write both ONNX files into ``work`` and evaluate them on the held-out set."""
    export_onnx(model, work / FP32_FILE, INPUT_SIZE)
    check_export(model, work / FP32_FILE, splits["val"].x[:64])
    quantize_int8(work / FP32_FILE, work / INT8_FILE, calibration_inputs(splits["calib"]),
                  scheme="u8s8", per_channel=per_channel)
    test = splits["test"]
    metrics = {v: evaluate(work / f, test.x, test.y, MODEL_CLASSES)
               for v, f in (("fp32", FP32_FILE), ("int8", INT8_FILE))}
    metrics["int8"]["scheme"] = {"format": "QDQ", "activations": "uint8", "weights": "int8",
                                 "per_channel": per_channel, "calibration": "MinMax"}
    return metrics


def training_record(args: argparse.Namespace, cfg: TrainConfig, result: TrainResult,
                    splits: dict[str, ds.Split], seconds: float) -> dict[str, Any]:
    """How the model was made: seeds, counts, hyper-parameters, learning curve."""
    return {
        "seeds": {"training": cfg.seed, **{k: s.seed for k, s in splits.items()}},
        "samples": {k: len(s.y) for k, s in splits.items()},
        "class_counts": {k: ds.class_counts(s, len(MODEL_CLASSES)) for k, s in splits.items()},
        "config": asdict(cfg),
        "quick": bool(args.quick),
        "parameters": count_parameters(result.model),
        "best_epoch": result.best_epoch,
        "best_val_accuracy": result.best_val_accuracy,
        "history": result.history,
        "seconds": round(seconds, 1),
    }


def manifest(splits: dict[str, ds.Split], metrics: dict[str, Any],
             training: dict[str, Any]) -> dict[str, Any]:
    """The manifest minus the file entries (added by ``write_manifest``)."""
    return {
        **contract_fields(f"0.1.0+synth.{ds.data_hash(*splits.values())}", MODEL_CLASSES),
        "training": training,
        "metrics": {"held_out": metrics},
        "code_version": code_version(),
    }


def code_version() -> str:
    """cloudjobs version plus a hash of the training sources (what made these weights)."""
    return f"cloudjobs {__version__} training-src {sources_digest()}"


def _report(out: Path, metrics: dict[str, dict[str, Any]]) -> None:
    for variant, m in metrics.items():
        _say(f"{variant}: held-out accuracy {m['accuracy']:.4f}, recall {m['recall']}, "
             f"{m['bytes'] / 1024:.0f} KiB, {m['latency_ms_batch1']:.2f} ms/crop")
    _say(f"wrote {FP32_FILE}, {INT8_FILE} and {MANIFEST} to {out}")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
