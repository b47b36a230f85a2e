"""The ``cloudjobs`` command: batch jobs that run in the cloud, never on the device."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cloudjobs import __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="cloudjobs", description="Batch jobs over what the sites uploaded."
    )
    parser.add_argument("--version", action="version", version=f"cloudjobs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "train-bootstrap",
        help="train the first stress model on generated crops, export ONNX, quantize INT8",
        add_help=False,
    )
    for name, text in (
        ("ingest", "read new raw uploads into the curated Parquet lake (idempotent)"),
        ("compact", "merge a partition's small Parquet parts"),
        ("query", "DuckDB SQL or a saved query over the curated datasets"),
        ("analyse", "per-zone trends and anomalies, camera health, data freshness"),
        ("fleet", "every site and device from heartbeats, silent ones first"),
        ("report", "HTML report with plots for agronomists"),
        ("train", "train the stress model on uploaded crops and labels, INT8, model card"),
    ):
        sub.add_parser(name, help=text, add_help=False)
    sub.add_parser("keys", help="create or show release signing keys", add_help=False)
    sub.add_parser("release", help="publish, widen or halt a signed model release",
                   add_help=False)
    sub.add_parser("release-outcomes", help="summarise model reports; halt a failing release",
                   add_help=False)
    if args and args[0] == "train-bootstrap":
        return _train_bootstrap(args[1:])
    commands = {
        "ingest": "cloudjobs.lake.ingest",
        "compact": "cloudjobs.lake.compact",
        "query": "cloudjobs.query.cli",
        "analyse": "cloudjobs.analysis.cli",
        "fleet": "cloudjobs.fleet.cli",
        "report": "cloudjobs.report",
        "train": "cloudjobs.training.train_job",
        "keys": "cloudjobs.release.keys",
        "release": "cloudjobs.release.publish",
        "release-outcomes": "cloudjobs.release.outcomes",
    }
    if args and args[0] in commands:
        import importlib

        try:
            module = importlib.import_module(commands[args[0]])
        except ImportError as exc:
            extra = "train" if args[0] == "train" else "cloud"
            print(missing_extra(f"cloudjobs {args[0]}", extra, exc), file=sys.stderr)
            return 2
        return int(module.main(args[1:]))
    parser.parse_args(args)
    parser.print_help(sys.stderr)
    return 2


def _train_bootstrap(argv: list[str]) -> int:
    try:
        from cloudjobs.training.bootstrap import main as bootstrap
    except ImportError as exc:
        print(missing_extra("cloudjobs train-bootstrap", "train", exc), file=sys.stderr)
        return 2
    return bootstrap(argv)


TORCH_CPU = (
    "PyTorch's CPU build first (a plain 'pip install torch', or torch==2.13.0 from PyPI, "
    "pulls the CUDA build: gigabytes of nvidia packages):\n"
    "  pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu\n"
)


def missing_extra(command: str, extra: str, exc: ImportError) -> str:
    """What to install when ``command`` cannot import its extra's packages."""
    head = f"error: {command} needs the '{extra}' extra ({exc}); install "
    if extra == "train":
        return f"{head}{TORCH_CPU}then: pip install -e '.[{extra}]'"
    return f"{head}it with: pip install -e '.[{extra}]'"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
