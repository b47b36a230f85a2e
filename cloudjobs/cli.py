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
    sub.add_parser("keys", help="create or show release signing keys", add_help=False)
    sub.add_parser("release", help="publish, widen or halt a signed model release",
                   add_help=False)
    sub.add_parser("release-outcomes", help="summarise model reports; halt a failing release",
                   add_help=False)
    if args and args[0] == "train-bootstrap":
        return _train_bootstrap(args[1:])
    commands = {
        "keys": "cloudjobs.release.keys",
        "release": "cloudjobs.release.publish",
        "release-outcomes": "cloudjobs.release.outcomes",
    }
    if args and args[0] in commands:
        import importlib

        module = importlib.import_module(commands[args[0]])
        return int(module.main(args[1:]))
    parser.parse_args(args)
    parser.print_help(sys.stderr)
    return 2


def _train_bootstrap(argv: list[str]) -> int:
    try:
        from cloudjobs.training.bootstrap import main as bootstrap
    except ImportError as exc:
        print(
            f"error: training needs the 'train' extra ({exc}); "
            "install it with: pip install -e '.[train]'",
            file=sys.stderr,
        )
        return 2
    return bootstrap(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
