"""Benchmark: segmentation against the reference masks of real photos, and its cost.

Section ``segmentation``: per reference (``tests/roi/reference``), IoU, precision,
recall and stressed-tissue recall of the segmenter with growth into stressed tissue
(``grow_rounds=4``, the default: "current") and without it (``grow_rounds=0``, as
before issue 11: "previous"), then the means; and the time ratio current / previous
on ``leaves_16mp.jpg`` at analysis scale (1024 x 768), both timed in this process,
interleaved, ratio of medians.

    PYTHONPATH=. python bench/truth_segmentation.py [--repeat 15] [--only leaves_16mp,...]

``bench/bench_truth.py`` calls :func:`segmentation_section` with the other sections.

Figures are printed, never asserted (the tests assert the thresholds).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from fieldagent.roi.config import SegmentationConfig
from fieldagent.roi.segment import segment_plants
from tests.support.reference_masks import Scores, names, reference, score

CURRENT = SegmentationConfig(grow_rounds=4)  # growth into stressed tissue (the default)
PREVIOUS = SegmentationConfig(grow_rounds=0)  # no growth, as before issue 11


def _fmt(value: float) -> str:
    return "  -  " if math.isnan(value) else f"{value:.3f}"


def segmentation_scores(only: list[str] | None = None) -> dict[str, tuple[Scores, Scores]]:
    """(previous, current) scores per reference name."""
    out: dict[str, tuple[Scores, Scores]] = {}
    for name in only or names():
        ref = reference(name)
        out[name] = (score(segment_plants(ref.rgb, config=PREVIOUS), ref),
                     score(segment_plants(ref.rgb, config=CURRENT), ref))
    return out


def time_ratio(rgb: np.ndarray, repeat: int) -> tuple[float, float]:
    """Median seconds of (previous, current) segmenter on ``rgb``, interleaved."""
    runs: dict[str, list[float]] = {"previous": [], "current": []}
    calls: dict[str, Callable[[], np.ndarray]] = {
        "previous": lambda: segment_plants(rgb, config=PREVIOUS),
        "current": lambda: segment_plants(rgb, config=CURRENT),
    }
    for _ in range(repeat):
        for key, call in calls.items():
            t = time.perf_counter()
            call()
            runs[key].append(time.perf_counter() - t)
    return statistics.median(runs["previous"]), statistics.median(runs["current"])


def segmentation_section(repeat: int = 15, only: list[str] | None = None) -> None:
    """Print the segmentation section: scores per reference, means, and the time ratio."""
    rows = segmentation_scores(only)
    print("segmentation vs reference masks (grow_rounds=0 -> the default growth, grow_rounds=4)")
    print(f"{'reference':36s} {'IoU':>13s} {'precision':>13s} {'recall':>13s} {'stressed':>13s}")
    for name, (old, new) in rows.items():
        cells = [f"{_fmt(getattr(old, k))}->{_fmt(getattr(new, k))}"
                 for k in ("iou", "precision", "recall", "stressed_recall")]
        print(f"{name:36s} " + " ".join(f"{c:>13s}" for c in cells))
    for label, idx in (("previous", 0), ("current", 1)):
        ious = [r[idx].iou for r in rows.values()]
        stressed = [r[idx].stressed_recall for r in rows.values()
                    if not math.isnan(r[idx].stressed_recall)]
        mean_stressed = float(np.mean(stressed)) if stressed else float("nan")
        print(f"{label:9s} mean IoU {np.mean(ious):.3f} (min {min(ious):.3f}), "
              f"mean stressed-tissue recall {_fmt(mean_stressed)} over {len(stressed)} references")
    rgb = reference("leaves_16mp").rgb
    old_s, new_s = time_ratio(rgb, repeat)
    print(f"time on leaves_16mp {rgb.shape[1]}x{rgb.shape[0]}: previous {old_s * 1e3:.1f} ms, "
          f"current {new_s * 1e3:.1f} ms, ratio {new_s / old_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timing runs of each segmenter")
    parser.add_argument("--only", help="comma-separated reference names (default: all)")
    args = parser.parse_args()
    segmentation_section(args.repeat, args.only.split(",") if args.only else None)


if __name__ == "__main__":
    main()
