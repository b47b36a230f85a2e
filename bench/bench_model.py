"""Benchmark: the shipped INT8 stress model against its FP32 original, as ratios.

Everything is measured in this one process and the variants are timed interleaved (one
run of each in turn, repeated), so machine noise hits all alike; the figures that matter
are ratios of medians. With one intra-op thread ONNX Runtime computes in the calling
thread, so the thread's CPU time is measured besides wall time: on a shared, busy machine
it ignores the time the process waited for a core and is far more repeatable.
Besides the shipped U8S8 model, S8S8 (ORT's documented default), per-tensor U8S8 and
dynamic quantization are produced on the fly in a temp dir, for the record.

    python bench/bench_model.py [--runs 400] [--n-test 600] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from cloudjobs.training.data import CALIB_SEED, TEST_SEED, make_split
from cloudjobs.training.evaluate import predict_labels, session_for
from cloudjobs.training.quantize import quantize_dynamic_int8, quantize_int8
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import packaged_model_dir

Batch = npt.NDArray[np.float32]
SHIPPED, BASE = "u8s8 (shipped)", "fp32"


def variants(shipped: Path, tmp: Path, calib: Batch) -> dict[str, Path]:
    """The shipped FP32 and U8S8 files, plus variants made now from the same FP32."""
    manifest = read_manifest(shipped)
    fp32, int8 = shipped / manifest.files["fp32"].file, shipped / manifest.files["int8"].file
    quantize_int8(fp32, tmp / "s8s8.onnx", calib, scheme="s8s8", per_channel=True)
    quantize_int8(fp32, tmp / "u8s8_tensor.onnx", calib, scheme="u8s8", per_channel=False)
    quantize_dynamic_int8(fp32, tmp / "dynamic.onnx")
    return {BASE: fp32, SHIPPED: int8, "s8s8": tmp / "s8s8.onnx",
            "u8s8 per-tensor": tmp / "u8s8_tensor.onnx", "dynamic": tmp / "dynamic.onnx"}


def interleaved_medians(sessions: dict[str, ort.InferenceSession], x: Batch,
                        runs: int) -> dict[str, tuple[float, float]]:
    """(median CPU seconds, median wall seconds) per ``run``, one run of each in turn."""
    feed = {"input": np.ascontiguousarray(x)}
    cpu: dict[str, list[float]] = {name: [] for name in sessions}
    wall: dict[str, list[float]] = {name: [] for name in sessions}
    for s in sessions.values():  # warm-up
        for _ in range(5):
            s.run(None, feed)
    for _ in range(runs):
        for name, s in sessions.items():
            c, w = time.thread_time(), time.perf_counter()
            s.run(None, feed)
            cpu[name].append(time.thread_time() - c)
            wall[name].append(time.perf_counter() - w)
    return {n: (statistics.median(cpu[n]), statistics.median(wall[n])) for n in sessions}


def accuracy(session: ort.InferenceSession, x: Batch, y: npt.NDArray[np.int64]) -> float:
    """Top-1 accuracy on the held-out set."""
    return float((predict_labels(session, x) == y).mean())


def row(name: str, paths: dict[str, Path], lat: dict[int, dict[str, tuple[float, float]]],
        acc: dict[str, float]) -> str:
    """One line of the table: size, CPU ms and ratios (wall ratio too), accuracy."""
    size = paths[name].stat().st_size
    cells = [f"{name:<16} {size / 1024:5.0f} {size / paths[BASE].stat().st_size:5.2f}"]
    for b in sorted(lat):
        (c, w), (c0, w0) = lat[b][name], lat[b][BASE]
        cells.append(f"{c * 1e3:7.3f} {c / c0:5.2f} {w / w0:5.2f}")
    cells.append(f"{acc[name]:8.4f} {acc[name] - acc[BASE]:+7.4f}")
    return "  ".join(cells)


def report(paths: dict[str, Path], lat: dict[int, dict[str, tuple[float, float]]],
           acc: dict[str, float]) -> list[str]:
    """The table (ratios are to FP32) and the one-line summary of the shipped INT8 model."""
    head = f"{'variant':<16} {'KiB':>5} {'size':>5}"
    for b in sorted(lat):
        head += f"  {f'b{b} cpu ms':>7} {'x':>5} {'wallx':>5}"
    lines = [head + f"  {'accuracy':>8} {'delta':>7}"]
    lines += [row(name, paths, lat, acc) for name in paths]
    ratio = {b: lat[b][SHIPPED][0] / lat[b][BASE][0] for b in lat}
    size = paths[SHIPPED].stat().st_size / paths[BASE].stat().st_size
    lines.append(f"\nsummary: INT8/FP32 size {size:.2f}, CPU-time latency "
                 + ", ".join(f"batch {b} {r:.2f}" for b, r in sorted(ratio.items()))
                 + f", held-out accuracy {acc[BASE]:.4f} -> {acc[SHIPPED]:.4f} "
                 f"({acc[SHIPPED] - acc[BASE]:+.4f})")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line options."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: packaged)")
    ap.add_argument("--runs", type=int, default=400, help="timed batch-1 runs per variant")
    ap.add_argument("--n-test", type=int, default=600, help="held-out crops for accuracy")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads, as on the device")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate the held-out crops, build the variants, time them interleaved, print."""
    args = parse_args(argv)
    test = make_split("held-out test", args.n_test, TEST_SEED)
    calib = make_split("calibration", 256, CALIB_SEED).x
    with tempfile.TemporaryDirectory() as tmp:
        paths = variants(args.model or packaged_model_dir(), Path(tmp), calib)
        sessions = {name: session_for(p, args.threads) for name, p in paths.items()}
        acc = {name: accuracy(s, test.x, test.y) for name, s in sessions.items()}
        lat = {1: interleaved_medians(sessions, test.x[:1], args.runs),
               12: interleaved_medians(sessions, test.x[:12], max(args.runs // 4, 20))}
        print(f"stress model: {args.threads} intra-op thread(s), onnxruntime {ort.__version__}, "
              f"{args.n_test} held-out crops (seed {TEST_SEED}); ratios are to FP32")
        if args.threads > 1:
            print("note: with >1 thread the CPU columns miss the worker threads; use wallx")
        print("\n".join(report(paths, lat, acc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
