"""``cloudjobs train``: the stress model from what the sites uploaded and agronomists labelled.

    cloudjobs train --lake LAKE --labels labels.csv --out models/stress-2025-06-01

Reads the sampled images and evidence crops in the lake folder and the labels file, adds
generated crops for class balance, trains the small CNN (PyTorch, CPU), exports FP32 ONNX,
quantizes INT8 (static QDQ, U8 activations, S8 weights, calibrated on sampled uploads),
evaluates both files on the same held-out set, and writes the model folder in the format the
agent loads (``manifest.json``, ``stress.int8.onnx``, ``stress.fp32.onnx``) with
``model_card.md`` and ``model_card.json``. When INT8 loses more accuracy than
``--int8-margin``, it writes ``REFUSED.txt`` (and the card) instead of ``manifest.json``
and exits with status 3: the folder cannot be released or loaded by mistake.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudjobs.training.artifacts import (
    FP32_FILE,
    INT8_FILE,
    contract_fields,
    file_entries,
    publish,
    write_manifest,
)
from cloudjobs.training.card import CARD_JSON, CARD_MD, CardInputs, card_json, card_markdown
from cloudjobs.training.card import code_version as describe_code
from cloudjobs.training.dataset import Dataset, DatasetConfig, build_dataset
from cloudjobs.training.errors import TrainingError
from cloudjobs.training.evaluate import compare_variants, int8_gate
from cloudjobs.training.export import check_export, export_onnx
from cloudjobs.training.labels import read_labels
from cloudjobs.training.lake import list_images
from cloudjobs.training.model import StressNet, count_parameters
from cloudjobs.training.quantize import quantize_int8
from cloudjobs.training.train import TrainConfig, TrainResult, train
from fieldagent.inference.preprocess import INPUT_SIZE
from fieldagent.synth import MODEL_CLASSES
from fieldcontract.manifest import MODEL_MANIFEST

log = logging.getLogger(__name__)

EXIT_ERROR, EXIT_REFUSED = 2, 3
REFUSED = "REFUSED.txt"
QUANTIZATION = {"format": "QDQ", "activations": "uint8", "weights": "int8", "per_channel": True,
                "calibration": "MinMax", "pre_process": "quant_pre_process"}
Clock = Callable[[], datetime]


def _bounded(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], Any]:
    """An argparse type that refuses values outside [low, high] with a clear message."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}..{high:g}")
        return value
    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(prog="cloudjobs train",
                                 description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--lake", type=Path, required=True,
                    help="local lake folder (or synced bucket prefix) that holds raw/")
    ap.add_argument("--labels", type=Path, required=True,
                    help="CSV key,label[,note]; label is a class or skip")
    ap.add_argument("--out", type=Path, required=True,
                    help="new or empty folder for the model, its card, or REFUSED.txt")
    ap.add_argument("--epochs", type=_bounded(int, 1, 500), default=TrainConfig.epochs,
                    help=f"training epochs (default {TrainConfig.epochs})")
    ap.add_argument("--synthetic", type=_bounded(int, 0, 200_000),
                    default=DatasetConfig.synthetic,
                    help="generated training crops for bootstrapping and class balance; "
                         "validation and test get a fifth each "
                         f"(default {DatasetConfig.synthetic})")
    ap.add_argument("--int8-margin", type=_bounded(float, 0.0, 1.0), default=0.02,
                    help="refuse INT8 if its held-out accuracy is lower than FP32's by more")
    ap.add_argument("--seed", type=_bounded(int, 0, 2**31 - 1), default=0,
                    help="training seed (weights, shuffling); data seeds are fixed")
    ap.add_argument("--batch-size", type=_bounded(int, 1, 4096), default=TrainConfig.batch_size,
                    help=f"training batch size (default {TrainConfig.batch_size})")
    ap.add_argument("--threads", type=_bounded(int, 1, 64), default=1,
                    help="torch threads; part of the recipe, change it and the weights change")
    return ap.parse_args(list(argv) if argv is not None else None)


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    """Run the job; 0 = model written, 2 = bad input, 3 = INT8 refused (REFUSED.txt written)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return run(args, clock or (lambda: datetime.now(UTC)))
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def run(args: argparse.Namespace, clock: Clock) -> int:
    """The job body (see the module docstring)."""
    started = time.perf_counter()
    _check_out(args.out)
    images = list_images(args.lake)
    rows = read_labels(args.labels, {image.key for image in images}, MODEL_CLASSES)
    log.info("%d images in the lake, %d labels", len(images), len(rows))
    data = build_dataset(images, rows, DatasetConfig(synthetic=args.synthetic))
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                      threads=args.threads)
    log.info("training on %d crops (%d uploaded), %d epochs ...", len(data.train.items),
             sum(1 for i in data.train.items if i.source == "uploaded"), cfg.epochs)
    result = train(data.train.as_split(), data.val.as_split(), cfg, len(MODEL_CLASSES),
                   log=log.info)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        metrics = _export_and_evaluate(result.model, work, data)
        drop = metrics["fp32"]["accuracy"] - metrics["int8"]["accuracy"]
        refusal = int8_gate(metrics["fp32"]["accuracy"], metrics["int8"]["accuracy"],
                            args.int8_margin, "--int8-margin")
        gate = {"metric": "held-out accuracy", "margin": args.int8_margin,
                "drop": round(drop, 4), "passed": refusal is None, "reason": refusal}
        now = clock()
        inputs = CardInputs(
            version=model_version(now, data), created=now, lake=str(args.lake),
            labels_file=str(args.labels), labels_sha256=_sha256_file(args.labels),
            dataset=data, training=_training_record(cfg, result, started),
            quantization=QUANTIZATION, metrics=metrics, gate=gate, files=file_entries(work),
        )
        _write_card(work, inputs)
        names = [FP32_FILE, INT8_FILE, CARD_JSON, CARD_MD]
        if refusal:
            (work / REFUSED).write_text(refusal + "\n", encoding="utf-8")
            publish(work, args.out, [*names, REFUSED])
            print(f"error: {refusal}; wrote {REFUSED} and the model card to {args.out}, "
                  f"no {MODEL_MANIFEST}", file=sys.stderr)
            return EXIT_REFUSED
        write_manifest(work, _manifest(inputs))
        publish(work, args.out, [*names, MODEL_MANIFEST])
    _report(args.out, metrics)
    return 0


def model_version(now: datetime, data: Dataset) -> str:
    """PEP 440, newer for each run: ``YYYY.M.D.HHMMSS+lake<snapshot[:8]>`` (UTC).

    Written already normalised (no leading zeros) so release tools that normalise versions
    compare equal strings.
    """
    utc = now.astimezone(UTC)
    return (f"{utc.year}.{utc.month}.{utc.day}.{int(utc.strftime('%H%M%S'))}"
            f"+lake{data.snapshot_sha256()[:8]}")


def _check_out(out: Path) -> None:
    """Refuse a folder that already holds files: a stale manifest could outlive a refusal."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TrainingError(f"{out}: already exists and is not an empty folder; pass --out a "
                            "new folder (one per training run)")


def _export_and_evaluate(model: StressNet, work: Path, data: Dataset) -> dict[str, Any]:
    """Both ONNX files in ``work``, evaluated on the held-out set."""
    fp32, int8 = work / FP32_FILE, work / INT8_FILE
    export_onnx(model, fp32, INPUT_SIZE)
    check_export(model, fp32, data.val.x[:64])
    quantize_int8(fp32, int8, data.calib.x, scheme="u8s8", per_channel=True)
    test = data.test
    return compare_variants({"fp32": fp32, "int8": int8}, test.x, test.y, test.sources,
                            MODEL_CLASSES)


def _training_record(cfg: TrainConfig, result: TrainResult, started: float) -> dict[str, Any]:
    return {
        "config": asdict(cfg),
        "parameters": count_parameters(result.model),
        "best_epoch": result.best_epoch,
        "best_val_accuracy": result.best_val_accuracy,
        "history": result.history,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _manifest(inputs: CardInputs) -> dict[str, Any]:
    """The manifest minus the file entries (``write_manifest`` adds them)."""
    data = inputs.dataset
    return {
        **contract_fields(inputs.version, data.classes),
        "training": {**inputs.training,
                     "samples": {p.name: len(p.items) for p in (data.train, data.val, data.test)}},
        "data": {"snapshot_sha256": data.snapshot_sha256(),
                 "heldout_sha256": data.heldout_sha256(), "labels_sha256": inputs.labels_sha256},
        "metrics": {"held_out": inputs.metrics},
        "code_version": describe_code(),
        "model_card": CARD_MD,
    }


def _write_card(work: Path, inputs: CardInputs) -> None:
    card = card_json(inputs, describe_code())
    (work / CARD_JSON).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (work / CARD_MD).write_text(card_markdown(card), encoding="utf-8")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _report(out: Path, metrics: dict[str, dict[str, Any]]) -> None:
    for variant, m in metrics.items():
        log.info("%s: held-out accuracy %.4f, ECE %.4f, %.0f KiB, %.3f ms/crop", variant,
                 m["accuracy"], m["ece_10_bins"], m["bytes"] / 1024, m["latency_ms_batch1"])
    log.info("wrote %s, %s, %s and %s to %s", FP32_FILE, INT8_FILE, CARD_MD, MODEL_MANIFEST, out)


if __name__ == "__main__":
    raise SystemExit(main())
