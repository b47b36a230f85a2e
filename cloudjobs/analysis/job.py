"""The cross-site analysis job: per-site work on any executor, peer comparison, write-back.

Reading and reducing a site's rows is independent of every other site, so ``analyse_site``
is a top-level function mapped over sites with whatever ``concurrent.futures.Executor`` the
caller passes (threads, processes, a Dask cluster). Only the small per-zone results come
back; the comparison with peers needs every site and runs here, then each site's rows are
written as one file per dataset and window, replacing the previous run of that window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cloudjobs.analysis.camera_health import ANY, QUALITY_COLUMNS, camera_health
from cloudjobs.analysis.config import AnalysisConfig
from cloudjobs.analysis.crops import CropMap
from cloudjobs.analysis.errors import AnalysisInputError
from cloudjobs.analysis.freshness import freshness_row, last_time
from cloudjobs.analysis.lakeio import replace_site_file
from cloudjobs.analysis.schemas import DATASETS, TS, with_site
from cloudjobs.analysis.trends import (
    SIGNAL_COLUMNS,
    Window,
    add_peer_scores,
    daily_medians,
    site_zone_rows,
)
from cloudjobs.lake.errors import LakeError
from cloudjobs.lake.location import Location
from cloudjobs.lake.reader import LakeReader, open_reader

log = logging.getLogger(__name__)
INPUTS = ("signals", "quality", "heartbeats")


@dataclass(frozen=True)
class SiteTask:
    """Everything one site's work needs; picklable, so it travels to any worker."""

    lake: LakeReader
    site: str
    window: Window
    config: AnalysisConfig
    crops: CropMap


@dataclass(frozen=True)
class SiteResult:
    """One site's partial results: zone rows still lack the peer comparison."""

    site: str
    zone_rows: list[dict[str, Any]]
    camera_health: pa.Table
    freshness: pa.Table


def analyse_site(task: SiteTask) -> SiteResult:
    """Read one site's rows for the window (and its history) and reduce them."""
    lake, site, window, cfg = task.lake, task.site, task.window, task.config
    first = min(window.since,
                window.until - timedelta(days=cfg.recent_days + cfg.history_days - 1))
    signals = lake.read("signals", site, SIGNAL_COLUMNS, first, window.until)
    zone_rows = site_zone_rows(site, daily_medians(signals), window, cfg, task.crops)
    quality = lake.read("quality", site, QUALITY_COLUMNS, window.since, window.until)
    heartbeats = lake.read("heartbeats", site, {"at": TS, "device": pa.string()},
                           window.since, window.until)
    in_window = signals.filter(pc.greater_equal(signals.column("date"), window.since.isoformat()))
    last = {
        "signal": last_time(lake, "signals", site, "ts", window.now),
        "image": last_time(lake, "quality", site, "ts", window.now),
        "heartbeat": last_time(lake, "heartbeats", site, "at", window.now),
    }
    fresh = freshness_row(site, window, cfg, last=last, images=quality,
                          signal_ts=in_window.select(["ts", "date"]), heartbeats=heartbeats)
    return SiteResult(site, zone_rows, camera_health(site, quality, window, cfg), fresh)


@dataclass(frozen=True)
class AnalysisSummary:
    """What a run found and wrote, for the command line and for the caller's checks."""

    window: Window
    sites: tuple[str, ...]
    rows: Mapping[str, int]
    files: tuple[str, ...]
    flagged_zones: tuple[str, ...] = field(default=())
    camera_problems: tuple[str, ...] = field(default=())
    freshness_problems: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """A short report a person reads after the job ran."""
        w = self.window
        out = [f"analysed {len(self.sites)} sites, {w.since} .. {w.until} "
               f"(at {w.now:%Y-%m-%d %H:%M} UTC)"]
        out += [f"  {name}: {n} rows" for name, n in self.rows.items()]
        for title, items in (("zones getting worse", self.flagged_zones),
                             ("camera problems tied to a time of day or all day",
                              self.camera_problems),
                             ("sites not fresh", self.freshness_problems)):
            out.append(f"{title}: {len(items) or 'none'}")
            out += [f"  {item}" for item in items]
        return out


def run_analysis(
    lake_root_or_store: Location | LakeReader,
    since: date,
    until: date,
    executor: Executor,
    *,
    now: datetime | None = None,
    config: AnalysisConfig | None = None,
    crops: CropMap | None = None,
) -> AnalysisSummary:
    """Analyse ``since..until`` (inclusive, UTC days) over every site; write the results.

    ``now`` is when freshness is judged (default: the wall clock, the only clock read).
    Re-running the same window replaces that window's files, so the job is idempotent.
    """
    if until < since:
        raise AnalysisInputError(f"the window ends ({until}) before it starts ({since}); "
                                 "swap --since and --until")
    lake = open_reader(lake_root_or_store)
    cfg, crop_map = config or AnalysisConfig(), crops or CropMap()
    window = Window(since, until, (now or datetime.now(UTC)).astimezone(UTC))
    sites = lake.sites(INPUTS)
    if not sites:
        raise LakeError(f"no site found under {lake.dataset_dir('')} ({', '.join(INPUTS)}): "
                        "run `cloudjobs ingest` first, or check --lake")
    log.info("analysing %d sites from %s to %s", len(sites), since, until)
    tasks = [SiteTask(lake, site, window, cfg, crop_map) for site in sites]
    results = list(executor.map(analyse_site, tasks))
    zone_rows = [row for r in results for row in r.zone_rows]
    tables = {
        "analysis_zone_trends": add_peer_scores(zone_rows, window, cfg, crop_map),
        "analysis_camera_health": _concat([r.camera_health for r in results],
                                          "analysis_camera_health"),
        "analysis_freshness": _concat([r.freshness for r in results], "analysis_freshness"),
    }
    files = _write(lake, sites, window, tables)
    return AnalysisSummary(
        window=window, sites=tuple(sites),
        rows={name: t.num_rows for name, t in tables.items()}, files=tuple(files),
        flagged_zones=_flagged(tables["analysis_zone_trends"]),
        camera_problems=_camera_problems(tables["analysis_camera_health"]),
        freshness_problems=_freshness_problems(tables["analysis_freshness"]),
    )


def _concat(tables: list[pa.Table], dataset: str) -> pa.Table:
    return pa.concat_tables([with_site(DATASETS[dataset]).empty_table(), *tables])


def _write(
    lake: LakeReader, sites: list[str], window: Window, tables: Mapping[str, pa.Table]
) -> list[str]:
    """One file per site, dataset and window; a site without rows loses its stale file."""
    name = f"part-{window.since.isoformat()}_{window.until.isoformat()}.parquet"
    written = []
    for dataset, table in tables.items():
        schema = DATASETS[dataset]
        for site in sites:
            rows = table.filter(pc.equal(table.column("site"), site)).drop_columns(["site"])
            path = replace_site_file(lake, dataset, site, name, rows.cast(schema))
            if rows.num_rows:
                written.append(path)
    return written


def _flagged(trends: pa.Table) -> tuple[str, ...]:
    rows = [r for r in trends.to_pylist() if r["flagged"]]
    rows.sort(key=lambda r: (r["peer_rank"] is None, r["peer_rank"] or 0, r["site"]))
    return tuple(f"{r['site']}/{r['camera']}/{r['zone']}: {r['reason']}" for r in rows)


def _camera_problems(health: pa.Table) -> tuple[str, ...]:
    """Flags that recur or persist; ``any`` only for cameras with no such named flag."""
    rows = [r for r in health.to_pylist() if r["pattern"] in ("recurring", "persistent")]
    named = {(r["site"], r["camera"]) for r in rows if r["flag"] != ANY}
    return tuple(
        f"{r['site']}/{r['camera']}: {r['reason']}" for r in rows
        if r["flag"] != ANY or (r["site"], r["camera"]) not in named
    )


def _freshness_problems(fresh: pa.Table) -> tuple[str, ...]:
    return tuple(
        f"{r['site']}: {r['status']}: {r['reason']}" for r in fresh.to_pylist()
        if r["status"] != "ok"
    )
