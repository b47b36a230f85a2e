"""``cloudjobs query``: SQL or a saved query over the lake, printed as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cloudjobs.lake.errors import LakeError
from cloudjobs.query.crops import CropsError
from cloudjobs.query.engine import Lake, QueryError
from cloudjobs.query.format import FORMATS, render
from cloudjobs.query.saved import get_saved, saved_queries
from cloudjobs.store import StoreError, add_store_arguments, store_from_args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudjobs query",
        description="Run SQL (DuckDB) over the lake: every curated dataset is a view by its "
                    "name (signals, quality, alerts, heartbeats, images, model_reports ...).",
    )
    parser.add_argument("sql", nargs="?", help="the SQL to run")
    add_store_arguments(parser)
    parser.add_argument("--saved", metavar="NAME", help="run a saved query instead of SQL")
    parser.add_argument("--param", action="append", default=[], metavar="K=V",
                        help="a saved query's parameter (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the saved queries")
    parser.add_argument("--views", action="store_true", help="list the views and columns")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--crops", type=Path, default=None,
                        help="YAML file mapping zones to crops (the zone_crops view)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 with the result on stdout, 1 on a query or store error, 2 on bad usage."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        print(_list_saved())
        return 0
    if not args.views and (args.sql is None) == (args.saved is None):
        parser.error("give either SQL or --saved NAME (or --list / --views)")
    try:
        params = dict(_split(p) for p in args.param)
        if params and not args.saved:
            raise QueryError("--param applies to saved queries; in SQL write the values")
        store = store_from_args(args)
        with Lake(store, crops=args.crops) as lake:
            if args.views:
                print(lake.describe())
                return 0
            if args.saved:
                saved = get_saved(args.saved)
                table = lake.sql(saved.sql, saved.bind(params))
            else:
                table = lake.sql(args.sql)
    except (QueryError, LakeError, StoreError, CropsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render(table, args.format))
    return 0


def _split(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise QueryError(f"--param {text!r} is not like name=value")
    return name.strip(), value


def _list_saved() -> str:
    lines = []
    for q in saved_queries().values():
        lines.append(f"{q.name}: {q.description}")
        lines += [f"    --param {p.name}={p.default}  {p.description}" for p in q.params]
    return "\n".join(lines)
