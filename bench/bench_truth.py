"""Truth benchmarks: how right the agent's analysis is on real photos and realistic light.

One run prints every section (each lives in its own module and can run alone):

* ``segmentation`` (``truth_segmentation.py``): IoU, precision, recall and stressed-tissue
  recall on the reference masks of real photos, current vs the segmenter before issue 11,
  and the segmentation time ratio;
* ``model`` (``truth_model.py``): the stress model's AUC per held-out crop beside the
  colour-only AUC, ECE, abstention on non-plant images;
* ``light`` (``truth_light.py``): false stress alerts per zone-day on realistic synthetic
  days, detection delay of planted yellowing, and per-stage time (what colour correction
  costs).

    PYTHONPATH=. python bench/bench_truth.py            # the full figures (minutes)
    PYTHONPATH=. python bench/bench_truth.py --quick    # a tiny run (CI: it must complete)

Figures are printed, never asserted: the tests assert the thresholds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.truth_light import light_section
from bench.truth_model import model_section
from bench.truth_segmentation import segmentation_section


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes: a few references, every 8th photo, one short day")
    ap.add_argument("--only", choices=("segmentation", "model", "light"), action="append",
                    help="run only these sections (repeatable)")
    args = ap.parse_args(argv)
    wanted = set(args.only or ("segmentation", "model", "light"))
    if "segmentation" in wanted:
        segmentation_section(repeat=2 if args.quick else 15,
                             only=["leaves_16mp", "pv-corn-gray_leaf_spot-1"] if args.quick
                             else None)
    if "model" in wanted:
        model_section(every=8 if args.quick else 1, probes_per_kind=3 if args.quick else 20)
    if "light" in wanted:
        light_section(days=1 if args.quick else 7, seeds=1 if args.quick else 3,
                      size=240 if args.quick else 480)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
