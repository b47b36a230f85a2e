"""The report's numbers against the same numbers computed here from the generated rows."""

from __future__ import annotations

import math
import shutil
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from cloudjobs.analysis.schemas import ZONE_TRENDS
from cloudjobs.lake.errors import LakeError
from cloudjobs.report import Report
from cloudjobs.report import data as queries
from cloudjobs.report.html import Page, render
from cloudjobs.report.plots import QUALITY_FLAGS, heatmap_matrix
from cloudjobs.report.views import open_lake
from tests.cloudjobs_report.lakegen import DAYS, NOW, PLANTED, START, Lake, build_lake
from tests.support.seaweed import SeaweedS3

WINDOW = queries.Window(START, START + timedelta(days=DAYS - 1))


def expected_latest_stress(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    """Median stress of each zone's last day, trusted and finite readings only (numpy)."""
    per_day: dict[tuple[str, str, str], dict[date, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        if r["trusted"] and not math.isnan(r["stress_score"]):
            per_day[(r["site"], r["camera"], r["zone"])][r["date"]].append(r["stress_score"])
    return {k: float(np.median(days[max(days)])) for k, days in per_day.items()}


def test_heatmap_holds_each_zones_latest_median(report: Report, lake: Lake) -> None:
    expected = expected_latest_stress(lake.signals)
    hm = heatmap_matrix(report.data.latest)
    filled = 0
    for i, site in enumerate(hm.sites):
        for j, label in enumerate(hm.zones):
            zone, camera = label.removesuffix(")").split(" (")
            value = expected.get((site, camera, zone))
            if value is None:
                assert math.isnan(hm.values[i, j]), (site, label)
            else:
                assert hm.values[i, j] == pytest.approx(value, abs=1e-9), (site, label)
                filled += 1
    assert filled == len(expected)  # every zone appears once
    site, camera, zone = PLANTED
    assert hm.sites[0] == site and hm.zones[0] == f"{zone} ({camera})"  # worst top-left


def test_daily_medians_skip_untrusted_and_nan_and_tolerate_missing_columns(
    report: Report, lake: Lake
) -> None:
    days = {(d.key.site, d.key.camera, d.key.zone, d.day): d for d in report.data.zone_days}
    sample = [r for r in lake.signals if (r["site"], r["zone"]) == ("a", "B-2")]
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in sample:
        by_day[r["date"]].append(r)
    for day, rows in by_day.items():
        trusted = [r for r in rows if r["trusted"]]
        got = days[("a", "cam1", "B-2", day)]
        assert got.images == len(trusted)
        assert got.yellow_fraction == pytest.approx(np.median([r["yellow_fraction"]
                                                               for r in trusted]))  # fmt: skip
        if day < START + timedelta(days=3):
            assert got.gcc is None  # those files were written before the gcc column existed
        else:
            assert got.gcc == pytest.approx(np.median([r["gcc"] for r in trusted]))


def test_quality_counts_each_failing_image_once_under_its_first_cause(
    report: Report, lake: Lake
) -> None:
    expected: Counter[tuple[str, str, date, str]] = Counter()
    images: Counter[tuple[str, str, date]] = Counter()
    for r in lake.quality:
        images[(r["site"], r["camera"], r["date"])] += 1
        if r["status"] == "rejected":
            expected[(r["site"], r["camera"], r["date"], "unreadable")] += 1
        elif not r["ok"]:
            expected[(r["site"], r["camera"], r["date"], r["flags"][0])] += 1
    got = {(q.site, q.camera, q.day, c): n for q in report.data.quality for c, n in q.failing}
    assert got == dict(expected)
    assert {(q.site, q.camera, q.day): q.images for q in report.data.quality} == dict(images)


def test_the_plots_colour_table_follows_the_agents_flags() -> None:
    from fieldagent.quality.config import ALL_CHECKS

    assert tuple(ALL_CHECKS) == QUALITY_FLAGS


def test_alert_episodes_fold_raise_and_resolve(report: Report) -> None:
    by_rule = {e.rule: e for e in report.data.episodes}
    assert by_rule["yellowing"].resolved is None and by_rule["yellowing"].severity == "warning"
    fog = by_rule["fogged-lens"]
    assert fog.started == datetime(2025, 3, 6, 3, tzinfo=UTC)
    assert fog.resolved == datetime(2025, 3, 8, 15, tzinfo=UTC)
    assert len(report.data.episodes) == 3


def test_devices_report_their_latest_heartbeat(report: Report) -> None:
    devices = {d.device: d for d in report.data.devices}
    assert devices["b-dev1"].last_seen == datetime(2025, 3, 4, 18, tzinfo=UTC)
    assert devices["a-dev1"].model_version == "stress-2"
    assert devices["a-dev1"].backlog_items == 9 * 10 + 18  # the last heartbeat's figure


def test_window_defaults_to_the_data_and_dates_restrict_it(lake: Lake) -> None:
    curated = open_lake(lake.root)
    assert queries.default_window(curated, NOW.date(), 14) == WINDOW
    assert queries.default_window(curated, NOW.date(), 3).since == date(2025, 3, 8)
    narrow = queries.load(curated, queries.Window(date(2025, 3, 4), date(2025, 3, 5)))
    assert {d.day for d in narrow.zone_days} == {date(2025, 3, 4), date(2025, 3, 5)}
    (dry,) = narrow.episodes  # only its resolution is in the window: it started at "since"
    assert dry.started == datetime(2025, 3, 3, 9, tzinfo=UTC)
    assert dry.resolved == datetime(2025, 3, 4, 10, tzinfo=UTC)
    empty = open_lake(lake.root / "curated" / "signals")  # no curated/ below: nothing
    assert queries.default_window(empty, NOW.date(), 14) == queries.Window(
        NOW.date() - timedelta(days=13), NOW.date()
    )


def test_missing_and_unreadable_datasets_are_said_not_fatal(tmp_path: Path) -> None:
    lake = build_lake(tmp_path)
    shutil.rmtree(tmp_path / "curated" / "heartbeats")
    bad = tmp_path / "curated" / "quality" / "site=a" / "date=2025-03-02" / "part-bad.parquet"
    bad.write_bytes(b"not parquet at all")
    data = queries.load(open_lake(lake.root), WINDOW)
    assert data.missing == {"heartbeats"} and data.devices == ()
    assert data.skipped_files == (bad.as_posix(),)
    assert data.quality  # the other quality files still count
    page = render(Page(data, {}, [], NOW, NOW, timedelta(hours=2), "lake"))
    assert "No heartbeats uploaded yet." in page
    assert "1 unreadable files were skipped" in page


def _filler(t: pa.DataType, end: date) -> Any:
    """A value for a required column this test does not care about."""
    if pa.types.is_date(t):
        return end
    if pa.types.is_timestamp(t):
        return datetime.combine(end, datetime.min.time(), UTC)
    if pa.types.is_list(t):
        return []
    return {pa.types.is_string(t): "", pa.types.is_boolean(t): False}.get(True, 0)


def _trend_row(zone: str, end: date, flagged: bool, reason: str) -> dict[str, Any]:
    """A row of the analysis' zone trends (its own schema: the contract we read)."""
    row = {f.name: None if f.nullable else _filler(f.type, end) for f in ZONE_TRENDS}
    return row | {
        "camera": "cam1", "zone": zone, "window_start": end - timedelta(days=6),
        "window_end": end, "flagged": flagged, "reason": reason,
        "stress_score_recent": 2.5 if flagged else 0.5,
    }  # fmt: skip


def test_analysis_flags_replace_the_simple_rule_where_the_analysis_ran(tmp_path: Path) -> None:
    lake = build_lake(tmp_path)
    runs = {  # site b: an old run and the newest; site c: a run that flags nothing
        ("b", date(2025, 3, 5)): [_trend_row("B-4", date(2025, 3, 5), True, "old run")],
        ("b", date(2025, 3, 10)): [_trend_row("B-2", date(2025, 3, 10), True, "peers say"),
                                   _trend_row("B-4", date(2025, 3, 10), False, "")],
        ("c", date(2025, 3, 10)): [_trend_row("B-1", date(2025, 3, 10), False, "")],
    }  # fmt: skip
    for (site, end), rows in runs.items():
        folder = tmp_path / "curated" / "analysis_zone_trends" / f"site={site}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(rows, schema=ZONE_TRENDS)
        pq.write_table(table, folder / f"part-{end}.parquet")
    data = queries.load(open_lake(lake.root), WINDOW)
    named = {(a.key.site, a.key.zone): a for a in data.attention}
    assert named[("b", "B-2")].reason == "peers say"
    assert named[("b", "B-2")].source.startswith("cross-site analysis")
    assert ("b", "B-4") not in named  # flagged only by the older run
    assert (named[("b", "B-3")].stress or 0.0) > 3  # clearly abnormal: named anyway
    assert list(named) == [("b", "B-3"), ("b", "B-2")]  # most stressed first


def test_report_reads_a_lake_on_s3(seaweed_s3: SeaweedS3, lake: Lake) -> None:
    bucket = seaweed_s3.create_bucket("report-lake")
    client = seaweed_s3.client()
    for path in (lake.root / "curated").rglob("*.parquet"):
        key = "lake/" + path.relative_to(lake.root).as_posix()
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    host = seaweed_s3.endpoint_url.removeprefix("http://")
    fs = pafs.S3FileSystem(
        endpoint_override=host, scheme="http", region=seaweed_s3.region,
        access_key=seaweed_s3.credentials["access_key_id"],
        secret_key=seaweed_s3.credentials["secret_access_key"],
    )  # fmt: skip
    remote = queries.load(open_lake((fs, f"{bucket}/lake"), site="b"), WINDOW)
    local = queries.load(open_lake(lake.root, site="b"), WINDOW)
    assert remote.zone_days == local.zone_days and remote.attention == local.attention
    assert remote.devices == local.devices and remote.sites == ("b",)
    with pytest.raises(LakeError, match="'no-such-bucket' of the lake does not exist"):
        open_lake((fs, "no-such-bucket/lake"))


def test_damaged_or_conflicting_files_are_refused_with_a_way_out(tmp_path: Path) -> None:
    lake = build_lake(tmp_path)
    part = tmp_path / "curated" / "signals" / "site=a" / "date=2025-03-04" / "part-0001.parquet"
    body = bytearray(part.read_bytes())
    body[4:400] = bytes(396)  # the first pages zeroed; the footer still reads
    part.write_bytes(bytes(body))
    with pytest.raises(LakeError, match="re-ingested"):
        queries.load(open_lake(lake.root), WINDOW)
    odd = part.with_name("part-0002.parquet")
    pq.write_table(pa.table({"stress_score": ["high"]}), odd)
    part.unlink()
    with pytest.raises(LakeError, match="disagree on a column's type"):
        queries.load(open_lake(lake.root), WINDOW)
