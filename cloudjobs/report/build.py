"""``cloudjobs report``: the HTML report with its plots, from the curated lake.

    cloudjobs report [--store URL] [--site S] [--since DATE] [--until DATE] --out DIR

Reads the curated datasets (``cloudjobs ingest`` writes them), draws the plots as PNG
files in DIR and writes ``DIR/index.html`` last and atomically, so whoever opens the
page mid-run sees the previous report or the new one, never half of one. Without dates
it covers the 14 days up to the latest uploaded data.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from cloudjobs.lake.errors import LakeError
from cloudjobs.report import data as queries
from cloudjobs.report import plots
from cloudjobs.report.errors import ReportError
from cloudjobs.report.html import Page, render
from cloudjobs.report.summary import summary_lines
from cloudjobs.report.views import LakeLocation, open_lake
from cloudjobs.store import StoreError, add_store_arguments, store_from_args
from fieldcontract.keys import check_name

DEFAULT_DAYS = 14
SILENT_AFTER = timedelta(hours=2)  # 12 missed heartbeats at the default 10-minute interval
PNG_FILES = ("heatmap_stress.png", "quality.png", "alerts.png",
             *(f"trend_{m.name}.png" for m in plots.METRICS))  # fmt: skip


@dataclass(frozen=True)
class Report:
    """What was written: the page, the figures it shows, and the data behind them."""

    index: Path
    plots: tuple[plots.Plot, ...]
    data: queries.ReportData
    summary: tuple[str, ...]


def utc_now() -> datetime:
    """The real clock, the default of :func:`build_report`'s ``clock``."""
    return datetime.now(UTC)


def _window(default: queries.Window, since: date | None, until: date | None) -> queries.Window:
    """The window asked for, the default filling in what was not given."""
    if since is None and until is None:
        return default
    if until is None:
        until = max(default.until, since or default.until)
    if since is None:
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise ReportError(f"--since {since} is after --until {until}: swap them")
    return queries.Window(since, until, default.site)


def _draw(data: queries.ReportData, out_dir: Path) -> dict[str, plots.Plot | None]:
    stress, yellow, green = plots.METRICS
    args = (data.zone_days, data.latest, data.window, out_dir)
    return {
        "stress": plots.trend_plot(stress, *args),
        "heatmap": plots.heatmap_plot(data.latest, out_dir),
        "yellow": plots.trend_plot(yellow, *args),
        "green": plots.trend_plot(green, *args),
        "quality": plots.quality_plot(data.quality, data.window, out_dir),
        "alerts": plots.alerts_plot(data.episodes, data.window, out_dir),
    }


def build_report(
    lake: LakeLocation,
    out_dir: str | os.PathLike[str],
    *,
    site: str | None = None,
    since: date | None = None,
    until: date | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Report:
    """Write ``out_dir/index.html`` and its PNG files for ``site`` (all when None).

    ``lake`` is a folder, a ``file://``/``s3://`` URL or ``(pyarrow filesystem, root)``;
    the curated datasets are under ``<root>/curated/``. Dates are UTC days, both included.
    """
    curated = open_lake(lake, site=site)
    now = clock()
    window = _window(queries.default_window(curated, now.date(), DEFAULT_DAYS), since, until)
    data = queries.load(curated, window)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in PNG_FILES:  # a figure without data this time must not linger from the last
        (out / stale).unlink(missing_ok=True)
    drawn = _draw(data, out)
    window_end = datetime.combine(window.until + timedelta(days=1), time.min, UTC)
    reference = min(now, window_end)
    summary = summary_lines(data, reference, SILENT_AFTER)
    page = Page(data, drawn, summary, now, reference, SILENT_AFTER, curated.location())
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(render(page), encoding="utf-8")
    tmp.replace(index)
    return Report(index, tuple(p for p in drawn.values() if p), data, tuple(summary))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _site(text: str) -> str:
    try:
        return check_name("site", text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line of ``cloudjobs report``."""
    ap = argparse.ArgumentParser(
        prog="cloudjobs report",
        description="Write an HTML report with plots (stress, greenness, image quality, "
        "alerts, devices) from the curated lake.",
    )
    add_store_arguments(ap)
    ap.add_argument("--site", type=_site, default=None, help="only this site (default: all)")
    ap.add_argument("--since", type=_day, default=None,
                    help=f"first day, YYYY-MM-DD UTC (default: {DEFAULT_DAYS} days up to --until, "
                         "from the first data at the latest)")
    ap.add_argument("--until", type=_day, default=None,
                    help="last day, YYYY-MM-DD UTC (default: the latest day with data)")
    ap.add_argument("--out", type=Path, required=True, help="folder to write index.html into")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], datetime] = utc_now) -> int:
    """Run the command: 0 = written, 1 = the report could not be built (message on stderr)."""
    args = parse_args(argv)
    try:
        report = build_report(store_from_args(args), args.out, site=args.site,
                              since=args.since, until=args.until, clock=clock)  # fmt: skip
    except (ReportError, LakeError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {report.index} ({len(report.plots)} plots)")
    for line in report.summary:
        print(f"  {line}")
    return 0
