"""``cloudjobs fleet``: who is silent, behind, on an old model or short of disk."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from cloudjobs.analysis.cli import add_lake_arguments
from cloudjobs.fleet.config import FleetConfig
from cloudjobs.fleet.render import FORMATS
from cloudjobs.fleet.table import fleet_table
from cloudjobs.store import open_store
from fieldagent.errors import FieldAgentError

_UNITS = {"s": 1 / 60, "m": 1.0, "h": 60.0, "d": 1440.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_minutes(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` or ``1h30m`` -> minutes."""
    parts = _DURATION.findall(text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration like 30m, 2h, 1d or 1h30m")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``cloudjobs fleet``."""
    defaults = FleetConfig()
    parser = argparse.ArgumentParser(
        prog="cloudjobs fleet",
        description="Every site and device from its heartbeats: last seen, backlog, disk, "
                    "model and rollout state, alerts of the last day; silent first.",
    )
    add_lake_arguments(parser)
    parser.add_argument("--format", choices=sorted(FORMATS), default="table",
                        help="table (for people, default), json or csv")
    parser.add_argument("--silent-after", type=parse_minutes,
                        default=defaults.silent_after_minutes,
                        help="a device is silent after this long without a heartbeat "
                             "(default 30m)")
    parser.add_argument("--behind-after", type=parse_minutes,
                        default=defaults.behind_after_minutes,
                        help="a device is behind when its oldest waiting item is older "
                             "(default 1h)")
    parser.add_argument("--model-version", default=None,
                        help="the model every device should run (default: the version most "
                             "devices run)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Print the fleet view; 0 on success, 1 when the lake cannot be read."""
    args = build_parser().parse_args(argv)
    try:
        config = FleetConfig(silent_after_minutes=args.silent_after,
                             behind_after_minutes=args.behind_after)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        store = open_store(args.lake, endpoint_url=args.endpoint_url, region=args.region)
        rows = fleet_table(store, args.now or datetime.now(UTC), config=config,
                           model_version=args.model_version)
    except FieldAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(FORMATS[args.format](rows))
    return 0
