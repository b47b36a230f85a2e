"""The one curated-lake reader: listing, pruning, projection, schemas and the errors it speaks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cloudjobs.lake.errors import LakeError
from cloudjobs.lake.reader import open_reader
from cloudjobs.store import LocalStore

F64 = pa.float64()


def _part(root: Path, relative: str, table: pa.Table) -> Path:
    path = root / "curated" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """Two sites of ``signals`` over three days (the newest part adds ``gcc``), one
    site-only analysis dataset, and files a reader must never take for part files."""
    for site in ("north", "south"):
        for day in (1, 2):
            table = pa.table({"zone": [f"{site}-z"], "stress_score": [float(day)]})
            _part(tmp_path, f"signals/site={site}/date=2024-05-0{day}/part-a.parquet", table)
    newer = pa.table({"zone": ["north-z"], "stress_score": [3.0], "gcc": [0.4]})
    _part(tmp_path, "signals/site=north/date=2024-05-03/part-b.parquet", newer)
    _part(tmp_path, "analysis_freshness/site=north/part-2024-05-01_2024-05-03.parquet",
          pa.table({"status": ["ok"]}))
    _part(tmp_path, "signals/site=north/date=2024-05-03/.part-c.parquet", newer)
    _part(tmp_path, "signals/site=north/date=someday/part-d.parquet", newer)
    return tmp_path


def test_datasets_sites_parts_and_dates_come_from_one_listing(lake: Path) -> None:
    reader = open_reader(lake)
    assert reader.datasets() == ["analysis_freshness", "signals"]
    assert reader.sites(["signals", "quality"]) == ["north", "south"]
    parts = reader.parts("signals", "north")
    assert [p.path.rsplit("/", 2)[-2] for p in parts] == [
        "date=2024-05-01", "date=2024-05-02", "date=2024-05-03"]
    assert parts[0].site == "north" and parts[0].day == date(2024, 5, 1)
    assert reader.dates("signals", "south") == ["2024-05-01", "2024-05-02"]
    assert reader.parts("analysis_freshness")[0].day is None


def test_a_reader_reads_the_listing_it_made(lake: Path) -> None:
    reader = open_reader(lake)
    assert len(reader.parts("signals")) == 5
    _part(lake, "signals/site=east/date=2024-05-01/part-a.parquet", pa.table({"zone": ["e"]}))
    assert len(reader.parts("signals")) == 5  # the snapshot it listed
    assert len(open_reader(lake).parts("signals")) == 6


def test_read_prunes_by_site_and_date_and_fills_missing_columns(lake: Path) -> None:
    reader = open_reader(lake)
    older = reader.read("signals", "north", {"stress_score": F64, "gcc": F64},
                        date(2024, 5, 1), date(2024, 5, 2))
    assert older.schema.names == ["stress_score", "gcc", "date"]
    assert older.column("stress_score").to_pylist() == [1.0, 2.0]
    assert older.column("gcc").null_count == 2  # no file read has it: nulls of its type
    every = reader.read("signals", "north", {"gcc": pa.float32()})
    assert every.column("gcc").to_pylist() == [None, None, pytest.approx(0.4)]
    assert every.schema.field("gcc").type == pa.float32()
    assert reader.read("signals", "west", {"gcc": F64}).num_rows == 0


def test_open_puts_partition_columns_last_and_keeps_undated_files(lake: Path) -> None:
    reader = open_reader(lake)
    table = reader.open("signals").to_table()  # type: ignore[union-attr]
    assert table.schema.names == ["zone", "stress_score", "gcc", "site", "date"]
    assert table.num_rows == 5
    trends = reader.open("analysis_freshness", since=date(2030, 1, 1))
    assert trends is not None and trends.schema.names == ["status", "site"]
    assert reader.open("signals", since=date(2030, 1, 1)) is None
    assert reader.open("nothing") is None


def test_a_damaged_file_is_named_or_skipped(lake: Path) -> None:
    bad = lake / "curated/signals/site=south/date=2024-05-02/part-z.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(LakeError, match=r"part-z\.parquet of curated/signals cannot be read"):
        open_reader(lake).open("signals")
    reader = open_reader(lake)
    found = reader.open("signals", skip_damaged=True)
    assert found is not None and found.count_rows() == 5
    assert reader.skipped == [bad.as_posix()]


def test_parts_that_disagree_on_a_type_are_refused(lake: Path) -> None:
    _part(lake, "signals/site=south/date=2024-05-02/part-z.parquet",
          pa.table({"stress_score": ["high"]}))
    with pytest.raises(LakeError, match="disagree on a column's type"):
        open_reader(lake).read("signals", "south", {"stress_score": F64})


def test_lake_urls_resolve(lake: Path) -> None:
    assert open_reader(lake.as_uri()).root == str(lake)
    assert open_reader(str(lake)) == open_reader(LocalStore(lake))
    reader = open_reader(lake)
    assert open_reader(reader) is reader
    with pytest.raises(LakeError, match="cannot open the lake"):
        open_reader("nosuchscheme://bucket/x")
    with pytest.raises(LakeError, match="does not exist"):
        open_reader(lake / "nowhere")
