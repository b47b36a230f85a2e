"""``cloudjobs analyse``: run the cross-site analysis over a window and print what it found."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cloudjobs.analysis.crops import CropMap, load_crop_map
from cloudjobs.analysis.job import run_analysis
from cloudjobs.executor import make_executor
from cloudjobs.store import DEFAULT_STORE, open_store
from fieldagent.errors import FieldAgentError

DEFAULT_DAYS = 14


def parse_date(text: str) -> date:
    """An ISO date (``2024-06-28``) for argparse, with a message that shows the form."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-06-28") from exc


def parse_now(text: str) -> datetime:
    """An ISO time; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time like 2024-06-28T23:50:00Z") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_lake_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lake`` (alias ``--store``) and the S3 options, as the other lake commands have,
    plus ``--now`` (the time ages are judged at; tests and post-mortems set it)."""
    parser.add_argument("--lake", "--store", dest="lake", default=DEFAULT_STORE,
                        help="the lake: a folder, file:///path or s3://bucket/prefix "
                             f"(default {DEFAULT_STORE})")
    parser.add_argument("--endpoint-url", default=None,
                        help="S3-compatible endpoint, e.g. http://127.0.0.1:8333 "
                             "(credentials come from the usual AWS variables or profile)")
    parser.add_argument("--region", default=None, help="S3 region")
    parser.add_argument("--now", type=parse_now, default=None,
                        help="judge ages as of this UTC time (default: the clock)")


def build_parser() -> argparse.ArgumentParser:
    """The options of ``cloudjobs analyse``."""
    parser = argparse.ArgumentParser(
        prog="cloudjobs analyse",
        description="Zone trends against their own history and their peers at other sites, "
                    "camera health by hour of day, and site freshness; written back to the "
                    "lake as curated/analysis_* datasets.",
    )
    add_lake_arguments(parser)
    parser.add_argument("--since", type=parse_date, default=None,
                        help=f"first day (UTC) of the window (default: --until minus "
                             f"{DEFAULT_DAYS - 1} days)")
    parser.add_argument("--until", type=parse_date, default=None,
                        help="last day (UTC) of the window, included (default: today)")
    parser.add_argument("--crops", type=Path, default=None,
                        help="YAML mapping of site (or site -> camera/zone) to crop: peers "
                             "are zones of the same crop (default: every zone)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:8786); default: local "
                             "processes")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: one per core, at most 8)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the analysis; print the summary; 0 on success, 1 when the job failed."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    now = args.now or datetime.now(UTC)
    until = args.until or now.date()
    since = args.since or until - timedelta(days=DEFAULT_DAYS - 1)
    try:
        crops = load_crop_map(args.crops) if args.crops else CropMap()
        store = open_store(args.lake, endpoint_url=args.endpoint_url, region=args.region)
        with make_executor(args.scheduler, args.workers) as executor:
            summary = run_analysis(store, since, until, executor, now=now, crops=crops)
    except FieldAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    return 0
