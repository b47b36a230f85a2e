"""Truth benchmarks: how right the agent's analysis is on real photos, section by section.

Each section is a function in its own module (``bench/truth_*.py``) that measures and
prints; this script runs them in turn.

    python bench/bench_truth.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.truth_model import model_section


def main(argv: list[str] | None = None) -> int:
    """Run every section; ``--quick`` measures on a fraction of the photos."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="every 4th photo, fewer probes")
    args = ap.parse_args(argv)
    model_section(every=4 if args.quick else 1, probes_per_kind=5 if args.quick else 20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
