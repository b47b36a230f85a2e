"""Benchmark: a cross-site weekly summary over the curated ``signals`` lake, DuckDB vs pandas,
and ingest throughput.

1. Generates the curated ``signals`` dataset directly with pyarrow/numpy (not through the
   ingest: 50 million rows would take too long), in the lake's Hive layout
   ``curated/signals/site=<s>/date=<d>/part-00000.parquet``, one file per site-day, with
   the lake's column types (``ts`` timestamp[us, UTC], ``camera``, ``zone``, ``trusted``,
   ``flags``, a float64 column per signal, the model and batch columns).
2. The weekly summary through the project's query engine (``cloudjobs.query.engine.Lake``
   over a ``LocalStore``: DuckDB on the pyarrow dataset): per site, zone and ISO week
   (Monday start, UTC) over trusted rows: count, mean and p90 of ``stress_score``, mean
   ``yellow_fraction``, mean ``gcc``, and the change in mean stress against the zone's
   previous week. Each run opens a fresh ``Lake`` (file listing and schema unification
   included) and runs the query; the figure is the median of ``--runs`` runs.
3. The same summary with pandas over the same Parquet files (``read_parquet`` of the
   needed columns with the ``trusted`` filter pushed down, then groupby/quantile/shift),
   one run (it is the slow side). The two results must agree (same groups, counts, and
   aggregates within 1e-9 relative): the script exits 1 if they do not.
4. Ingest throughput: a raw lake of ``--ingest-records`` signal records (image records
   plus their zone records, in batches built by the agent's own ``build_item``) is
   ingested with ``run_ingest`` inline (no executor) and again, into a fresh copy, with
   the default process executor (one worker per core, one task per site).

    python bench/bench_lake.py [--rows 50000000] [--sites 50] [--ingest-records 1000000]

Goals (from the project issue): the DuckDB summary under 30 s and at least 10x faster than
pandas at 50 million rows.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cloudjobs.executor import make_executor
from cloudjobs.lake.ingest import IngestOptions, run_ingest
from cloudjobs.query.engine import Lake
from cloudjobs.store import LocalStore
from fieldagent.offload.batcher import build_item
from fieldagent.offload.journal import Record, SealedBatch
from fieldagent.policy.model import BatchingPolicy

DAYS = 28
FIRST_DAY = date(2024, 5, 6)  # a Monday: 28 days are exactly 4 ISO weeks
CAMERAS = 4
ZONES_PER_CAMERA = 5
SIGNALS = ("stress_score", "yellow_fraction", "gcc", "gcc_p90", "green_fraction",
           "brown_fraction", "canopy_cover", "hue_mean_deg")
TS = pa.timestamp("us", tz="UTC")
GOAL_RATIO = 10.0
GOAL_SECONDS = 30.0
KEYS = ["site", "zone", "week"]
VALUES = ["n", "stress_mean", "stress_p90", "yellow_mean", "gcc_mean", "stress_wow"]

SUMMARY_SQL = """
WITH weekly AS (
    SELECT site, zone, CAST(date_trunc('week', ts) AS DATE) AS week,
           count(*) AS n,
           avg(stress_score) AS stress_mean,
           quantile_cont(stress_score, 0.9) AS stress_p90,
           avg(yellow_fraction) AS yellow_mean,
           avg(gcc) AS gcc_mean
    FROM signals
    WHERE trusted
    GROUP BY site, zone, week
)
SELECT *, stress_mean - lag(stress_mean) OVER (PARTITION BY site, zone ORDER BY week)
          AS stress_wow
FROM weekly
ORDER BY site, zone, week
"""


# --- 1. generation -----------------------------------------------------------------------

def generate(root: Path, rows: int, sites: int) -> tuple[int, int]:
    """Write the curated signals dataset; return (rows written, bytes on disk)."""
    zones = CAMERAS * ZONES_PER_CAMERA
    per_image = zones  # one row per zone per image time
    images = max(1, math.ceil(rows / (sites * DAYS * per_image)))
    rng = np.random.default_rng(42)
    zone_ids = np.array([f"z{z:02d}" for z in range(zones)])
    cam_ids = np.array([f"cam-{z // ZONES_PER_CAMERA + 1}" for z in range(zones)])
    seconds = (np.arange(images) * (86400 // images)).astype("int64")
    written = size = 0
    for s in range(sites):
        site = f"site-{s:03d}"
        for d in range(DAYS):
            day = FIRST_DAY + timedelta(days=d)
            table = _site_day(rng, s, d, day, seconds, zone_ids, cam_ids)
            folder = root / "curated" / "signals" / f"site={site}" / f"date={day.isoformat()}"
            folder.mkdir(parents=True)
            path = folder / "part-00000.parquet"
            pq.write_table(table, path, compression="snappy")
            written += table.num_rows
            size += path.stat().st_size
    return written, size


def _site_day(rng: np.random.Generator, s: int, d: int, day: date, seconds: np.ndarray,
              zone_ids: np.ndarray, cam_ids: np.ndarray) -> pa.Table:
    """One site-day: every zone at every image time, stress drifting by site, zone, day."""
    zones, images = len(zone_ids), len(seconds)
    n = zones * images
    zone_index = np.tile(np.arange(zones), images)
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    ts = midnight + np.repeat(seconds, zones) * 1_000_000
    trusted = rng.random(n) > 0.1
    base = 0.3 + 0.004 * s + 0.01 * zone_index + 0.01 * d
    stress = base + rng.normal(0.0, 0.1, n)
    stress_mask = rng.random(n) < 0.01  # a few readings without a stress score
    yellow = np.clip(0.05 + stress / 20 + rng.normal(0.0, 0.01, n), 0.0, 1.0)
    gcc = 0.38 + rng.normal(0.0, 0.02, n)
    columns: dict[str, pa.Array] = {
        "ts": pa.array(ts, type=TS),
        "camera": pa.array(cam_ids[zone_index]),
        "zone": pa.array(zone_ids[zone_index]),
        "trusted": pa.array(trusted),
        "flags": _flags(~trusted),
        "stress_score": pa.array(stress, mask=stress_mask),
        "yellow_fraction": pa.array(yellow),
        "gcc": pa.array(gcc),
    }
    for name in SIGNALS[3:]:
        columns[name] = pa.array(rng.random(n))
    label = np.where(stress > 0.8, "chlorosis", "healthy")
    columns["model_label"] = pa.array(label)
    columns["model_confidence"] = pa.array(0.5 + rng.random(n) / 2)
    columns["model_entropy"] = pa.array(rng.random(n))
    columns["model_version"] = pa.array(np.full(n, "1.0.0"))
    batch = np.repeat(np.arange(n // (zones * 50) + 1), zones * 50)[:n]
    columns["batch_key"] = pa.array(np.char.add(f"raw/signals/site=s{s}/date={day}/b", batch
                                                .astype(str)))
    return pa.table(columns)


def _flags(untrusted: np.ndarray) -> pa.Array:
    """``["untrusted_quality"]`` for untrusted rows, ``[]`` for the rest."""
    offsets = np.concatenate([[0], np.cumsum(untrusted)]).astype("int32")
    values = pa.array(np.full(int(untrusted.sum()), "untrusted_quality"))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


# --- 2./3. the summary ----------------------------------------------------------------------

def duckdb_summary(root: Path) -> pa.Table:
    with Lake(LocalStore(root)) as lake:
        return lake.sql(SUMMARY_SQL)


def native_summary(root: Path) -> pa.Table:
    """For reference: DuckDB's own Parquet reader on the same files (not the project's path)."""
    glob = (root / "curated" / "signals" / "*" / "*" / "*.parquet").as_posix()
    sql = SUMMARY_SQL.replace(
        "FROM signals", f"FROM read_parquet('{glob}', hive_partitioning = true)")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def pandas_summary(root: Path) -> pd.DataFrame:
    df = pd.read_parquet(root / "curated" / "signals",
                         columns=["site", "zone", "ts", "stress_score", "yellow_fraction", "gcc"],
                         filters=[("trusted", "==", True)])
    df["site"] = df["site"].astype(str)
    day = df["ts"].dt.floor("D")
    df["week"] = (day - pd.to_timedelta(df["ts"].dt.day_of_week, unit="D")).dt.date
    grouped = df.groupby(["site", "zone", "week"], sort=True)
    out = grouped.agg(n=("stress_score", "size"), stress_mean=("stress_score", "mean"),
                      yellow_mean=("yellow_fraction", "mean"), gcc_mean=("gcc", "mean"))
    out["stress_p90"] = grouped["stress_score"].quantile(0.9)
    out = out.reset_index()
    out["stress_wow"] = out.groupby(["site", "zone"])["stress_mean"].diff()
    return out


def compare(duck: pa.Table, pdf: pd.DataFrame) -> list[str]:
    """Differences between the two results (empty: they agree)."""
    d = duck.to_pandas()
    d["week"] = pd.to_datetime(d["week"]).dt.date
    problems = []
    if len(d) != len(pdf):
        return [f"group count differs: duckdb {len(d)}, pandas {len(pdf)}"]
    merged = d.merge(pdf, on=KEYS, suffixes=("_duck", "_pd"), how="outer", indicator=True)
    if (merged["_merge"] != "both").any():
        return [f"{int((merged['_merge'] != 'both').sum())} groups in only one result"]
    for col in VALUES:
        a = merged[f"{col}_duck"].to_numpy(dtype="float64")
        b = merged[f"{col}_pd"].to_numpy(dtype="float64")
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append(f"{col}: nulls differ")
        elif not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
            worst = int(np.nanargmax(np.abs(a - b)))
            problems.append(f"{col}: differs, e.g. duckdb {a[worst]!r} vs pandas {b[worst]!r}")
    return problems


# --- 4. ingest -------------------------------------------------------------------------------

def make_raw(root: Path, records: int, sites: int, zones: int = 4,
             images_per_batch: int = 100) -> int:
    """Signal batches as the agents upload them; return the number of records written."""
    root.mkdir(parents=True)
    store = LocalStore(root)
    policy = BatchingPolicy()
    per_image = 1 + zones
    images = max(1, records // per_image // sites)
    rng = np.random.default_rng(7)
    total = 0
    t0 = datetime(2024, 5, 6, tzinfo=UTC)
    for s in range(sites):
        site = f"site-{s:03d}"
        for start in range(0, images, images_per_batch):
            lines: list[Record] = []
            for i in range(start, min(images, start + images_per_batch)):
                ts = t0 + timedelta(seconds=60 * i)
                for rec in _image_records(rng, ts, f"cam-{i % 2 + 1}", zones):
                    line = json.dumps(rec, sort_keys=True, separators=(",", ":"))
                    lines.append(Record(len(lines) + 1, line, ts, ts))
            sealed = SealedBatch(start // images_per_batch + 1,
                                 lines[-1].ts + timedelta(minutes=5), tuple(lines))
            item = build_item(sealed, policy, site, 1, timedelta(days=30))
            assert item.data is not None
            store.put(item.key, item.data)
            total += len(lines)
    return total


def _image_records(rng: np.random.Generator, ts: datetime, camera: str,
                   zones: int) -> list[dict[str, Any]]:
    stamp = ts.isoformat()
    out: list[dict[str, Any]] = [{
        "type": "image", "v": 1, "ts": stamp, "camera": camera, "status": "ok", "ok": True,
        "flags": [], "metrics": {"mean_luminance": float(rng.random()), "blur_effect": 0.2,
                                 "rms_contrast": 0.3},
        "shift_px": [0.5, -0.25], "size": [4000, 3000], "alerts": [],
    }]
    for z in range(zones):
        score = float(rng.random())
        out.append({
            "type": "zone", "v": 1, "ts": stamp, "camera": camera, "id": f"bench-{z + 1}",
            "bbox": [0.1, 0.1, 0.5, 0.9], "trusted": True, "flags": [],
            "signals": {"plant_area_px": 150000.0, "canopy_cover": 0.45, "gcc": 0.38,
                        "gcc_p90": 0.41, "yellow_fraction": 0.05 + score / 20,
                        "brown_fraction": 0.01, "hue_mean_deg": 95.0, "stress_score": score,
                        "growth_rate": None},
            "model": {"label": "healthy", "confidence": 0.9, "entropy": 0.2,
                      "probabilities": {"healthy": 0.9, "wilting": 0.1},
                      "model_version": "1.0.0"},
        })
    return out


def ingest_once(root: Path, *, processes: bool) -> tuple[float, dict[str, int]]:
    store = LocalStore(root)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    start = time.perf_counter()
    if processes:
        with make_executor() as pool:
            reports = run_ingest(store, executor=pool, now=now, options=IngestOptions())
    else:
        reports = run_ingest(store, now=now, options=IngestOptions())
    elapsed = time.perf_counter() - start
    rows: dict[str, int] = {}
    for rep in reports:
        assert rep.error is None and not rep.rejected, rep
        for name, count in rep.rows.items():
            rows[name] = rows.get(name, 0) + count
    return elapsed, rows


# --- main ---------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ingest-records", type=int, default=1_000_000)
    parser.add_argument("--ingest-sites", type=int, default=4)
    parser.add_argument("--no-process-ingest", action="store_true",
                        help="skip the ingest run on the process executor")
    args = parser.parse_args()
    print("$ python " + " ".join(sys.argv))
    root = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    try:
        return run(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> int:
    lake = root / "lake"
    start = time.perf_counter()
    rows, size = generate(lake, args.rows, args.sites)
    print(f"generated {rows:,} signal rows, {args.sites} sites x {DAYS} days x "
          f"{CAMERAS * ZONES_PER_CAMERA} zones, {args.sites * DAYS} files, "
          f"{size / 1e6:,.0f} MB on {tempfile.gettempdir()} in "
          f"{time.perf_counter() - start:.1f} s")

    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        duck = duckdb_summary(lake)
        times.append(time.perf_counter() - start)
    duck_s = statistics.median(times)
    print(f"  DuckDB via cloudjobs Lake (open + query)  {duck_s:7.2f} s  median of {args.runs} "
          f"({', '.join(f'{t:.2f}' for t in times)}), {duck.num_rows} groups")

    native = []
    for _ in range(args.runs):
        start = time.perf_counter()
        ref = native_summary(lake)
        native.append(time.perf_counter() - start)
    assert ref.num_rows == duck.num_rows
    print(f"  (reference) DuckDB read_parquet native    {statistics.median(native):7.2f} s  "
          f"median of {args.runs}; not the project's path, not in the ratio")

    start = time.perf_counter()
    pdf = pandas_summary(lake)
    pandas_s = time.perf_counter() - start
    print(f"  pandas {pd.__version__} read_parquet + groupby      {pandas_s:7.2f} s  1 run")
    problems = compare(duck, pdf)
    del pdf
    ratio = pandas_s / duck_s
    print(f"  ratio pandas / DuckDB {ratio:.1f}x   goal >= {GOAL_RATIO:.0f}x: "
          f"{'met' if ratio >= GOAL_RATIO else 'NOT met'};  DuckDB < {GOAL_SECONDS:.0f} s: "
          f"{'met' if duck_s < GOAL_SECONDS else 'NOT met'}")
    if problems:
        print("  results DIFFER: " + "; ".join(problems))
        return 1
    print(f"  results agree: {duck.num_rows} groups, {', '.join(VALUES)} within 1e-9")
    shutil.rmtree(lake)

    raw = root / "raw"
    start = time.perf_counter()
    records = make_raw(raw, args.ingest_records, args.ingest_sites)
    print(f"raw lake: {records:,} signal records ({args.ingest_sites} sites, 1 image + 4 zone "
          f"records per image, 100 images a batch) built in {time.perf_counter() - start:.1f} s")
    variants = [("inline (no executor)", False)]
    if not args.no_process_ingest:
        variants.append(("process executor (default workers)", True))
    for name, processes in variants:
        folder = root / f"ingest-{processes}"
        shutil.copytree(raw, folder)
        elapsed, produced = ingest_once(folder, processes=processes)
        shutil.rmtree(folder)
        print(f"  ingest {name:<36} {elapsed:7.1f} s  {records / elapsed:>9,.0f} records/s  "
              f"rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(produced.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
