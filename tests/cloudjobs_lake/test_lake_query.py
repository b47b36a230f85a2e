"""``cloudjobs query``: views, saved queries and formats, checked against hand-computed numbers."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from statistics import mean

import pytest

from cloudjobs.query.cli import main
from cloudjobs.query.engine import Lake, QueryError
from cloudjobs.query.saved import get_saved, parse_saved, saved_queries
from cloudjobs.store import LocalStore
from tests.cloudjobs_lake.conftest import NOW
from tests.cloudjobs_lake.rawlake import RISING, RawLake

Ingested = tuple[LocalStore, RawLake]


def hand_stress_rising(truth: RawLake) -> dict[tuple[str, str, str], dict[str, float]]:
    """Rise of the mean trusted stress from day 1 to day 2 per zone, and its excess over the
    other zones of its type (every zone here is a 'bench')."""
    days: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list))
    for r in truth.zone_records:
        if r["trusted"]:
            days[(r["site"], r["camera"], r["id"])][r["ts"][:10]].append(
                r["signals"]["stress_score"])
    rise = {z: mean(d["2024-05-07"]) - mean(d["2024-05-06"]) for z, d in days.items()}
    total = sum(rise.values())
    out = {}
    for zone, value in rise.items():
        peer = (total - value) / (len(rise) - 1)
        out[zone] = {"rise": value, "peer_rise": peer, "excess": value - peer}
    return out


def test_every_dataset_is_a_view_with_the_right_counts(ingested: Ingested) -> None:
    store, truth = ingested
    with Lake(store) as lake:
        assert {"signals", "quality", "alerts", "heartbeats", "images", "model_reports",
                "zone_crops"} <= set(lake.views())
        assert lake.views()["signals"][:3] == [("site", "VARCHAR"), ("date", "VARCHAR"),
                                               ("ts", "TIMESTAMP WITH TIME ZONE")]
        got = lake.sql("SELECT site, date, count(*) AS n FROM signals GROUP BY ALL").to_pylist()
        raised = lake.sql("SELECT count(*) AS n FROM alerts WHERE state = 'raised'")
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for r in truth.zone_records:
        expected[(r["site"], r["ts"][:10])] += 1
    assert {(g["site"], g["date"]): g["n"] for g in got} == expected
    assert raised.to_pylist() == [{"n": sum(a["state"] == "raised" for a in truth.alerts)}]


def test_stress_rising_matches_the_hand_computation(ingested: Ingested) -> None:
    store, truth = ingested
    saved = get_saved("stress_rising")
    with Lake(store) as lake:
        table = lake.sql(saved.sql, saved.bind({"days": "1", "top": "50"})).to_pylist()
    hand = hand_stress_rising(truth)
    assert (table[0]["site"], table[0]["camera"], table[0]["zone"]) == RISING
    assert len(table) == len(hand)
    for row in table:
        want = hand[(row["site"], row["camera"], row["zone"])]
        assert row["peer_group"] == "bench" and row["peers"] == len(hand) - 1
        for name in ("rise", "peer_rise", "excess"):
            assert row[name] == pytest.approx(want[name], abs=1e-4)
    assert [r["excess"] for r in table] == sorted((r["excess"] for r in table), reverse=True)


def test_crops_mapping_decides_the_peers(ingested: Ingested, tmp_path: Path) -> None:
    store, _ = ingested
    crops = tmp_path / "crops.yaml"
    crops.write_text("north:\n  bench-1: lettuce\n  bench-2: lettuce\n"
                     "south:\n  cam-1/bench-2: basil\n  bench-2: lettuce\n")
    saved = get_saved("stress_rising")
    with Lake(store, crops=crops) as lake:
        table = lake.sql(saved.sql, saved.bind({"days": "1", "top": "50"})).to_pylist()
    group = {(r["site"], r["camera"], r["zone"]): (r["peer_group"], r["peers"]) for r in table}
    assert group[RISING] == ("basil", 0)
    assert group[("south", "cam-2", "bench-2")] == ("lettuce", 4)
    assert group[("north", "cam-1", "bench-1")] == ("lettuce", 4)
    assert group[("east", "cam-1", "bench-1")] == ("bench", 5)  # east 4 + south bench-1 2
    alone = next(r for r in table if (r["site"], r["camera"], r["zone"]) == RISING)
    assert alone["excess"] is None and table[-1] == alone  # no peers: nothing to compare


def test_recurring_quality_failures_by_hour(ingested: Ingested) -> None:
    store, truth = ingested
    saved = get_saved("quality_failures_by_hour")
    with Lake(store) as lake:
        table = lake.sql(saved.sql, saved.bind({})).to_pylist()
    per_hour: dict[tuple[str, str, int], list[tuple[str, bool]]] = defaultdict(list)
    for r in truth.image_records:
        failed = r["status"] != "ok" or not r["ok"]
        per_hour[(r["site"], r["camera"], datetime.fromisoformat(r["ts"]).hour)].append(
            (r["ts"][:10], failed))
    expected = {k for k, v in per_hour.items()
                if len({d for d, f in v if f}) >= 2 and sum(f for _, f in v) / len(v) >= 0.5}
    assert expected == {("north", "cam-2", 6)}
    assert {(r["site"], r["camera"], r["hour_utc"]) for r in table} == expected
    assert (table[0]["failures"], table[0]["fail_days"], table[0]["causes"]) == (2, 2, ["fog"])
    with Lake(store) as lake:  # one day of failures is enough with min_days=1
        loose = lake.sql(saved.sql, saved.bind({"min_days": "1"})).to_pylist()
    assert {(r["site"], r["camera"], r["hour_utc"]) for r in loose} == {
        ("north", "cam-2", 6), ("south", "cam-2", 18), ("east", "cam-1", 12)}


def test_freshness_per_site(ingested: Ingested) -> None:
    store, truth = ingested
    saved = get_saved("freshness")
    with Lake(store) as lake:
        table = lake.sql(saved.sql, saved.bind({"now": NOW.isoformat()})).to_pylist()
    for row in table:
        site = row["site"]
        last_signal = max(datetime.fromisoformat(r["ts"]) for r in truth.zone_records
                          if r["site"] == site)
        last_heartbeat = max(datetime.fromisoformat(h["at"]) for h in truth.heartbeats
                             if h["site"] == site)
        assert row["last_signal"] == last_signal
        assert row["last_heartbeat"] == last_heartbeat
        assert row["heartbeat_lag_h"] == (NOW - last_heartbeat).total_seconds() / 3600
    assert table[0]["site"] == "east"  # its heartbeats stopped at noon


def test_sql_errors_show_duckdb_and_the_views(ingested: Ingested) -> None:
    store, _ = ingested
    with Lake(store) as lake, pytest.raises(QueryError) as caught:
        lake.sql("SELECT no_such_column FROM signals")
    text = str(caught.value)
    assert "no_such_column" in text and "Binder Error" in text
    assert "signals: site varchar, date varchar, ts timestamp" in text
    assert "_arrow_" not in text


def test_an_empty_lake_still_has_the_views(local_store: LocalStore) -> None:
    with Lake(local_store) as lake:
        assert lake.sql("SELECT count(*) AS n FROM heartbeats").to_pylist() == [{"n": 0}]


def test_a_damaged_part_file_is_named_not_a_traceback(
        local_store: LocalStore, capsys: pytest.CaptureFixture[str]) -> None:
    bad = local_store.root / "curated/signals/site=north/date=2024-05-06/part-x.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet at all")
    assert main(["SELECT 1", "--store", str(local_store.root)]) == 1
    err = capsys.readouterr().err
    assert "part-x.parquet of curated/signals cannot be read" in err and "ingest" in err


def test_saved_query_headers_and_parameters() -> None:
    queries = saved_queries()
    assert {"stress_rising", "quality_failures_by_hour", "freshness"} <= set(queries)
    for q in queries.values():
        assert q.description
        for p in q.params:
            assert f"${p.name}" in q.sql, f"{q.name}: ${p.name} declared but not used"
    q = parse_saved("x", "-- What it does.\n-- param days = 7: period\nSELECT $days")
    assert (q.description, q.params[0].name, q.params[0].default) == ("What it does.", "days", "7")
    with pytest.raises(QueryError, match="no parameter nope; it takes: days"):
        q.bind({"nope": "1"})
    with pytest.raises(QueryError, match="no saved query 'missing'"):
        get_saved("missing")


def test_cli_table_csv_json(ingested: Ingested, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = ingested
    sql = "SELECT site, count(*) AS n, avg(stress_score) AS s FROM signals GROUP BY site " \
          "ORDER BY site"
    assert main([sql, "--store", str(store.root), "--format", "csv"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["site"], int(r["n"])) for r in parsed] == [("east", 54), ("north", 56),
                                                         ("south", 56)]
    assert main([sql, "--store", str(store.root), "--format", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert [r["site"] for r in as_json] == ["east", "north", "south"]
    assert float(parsed[0]["s"]) == pytest.approx(as_json[0]["s"], rel=1e-12)  # CSV: 15 digits
    assert main([sql, "--store", str(store.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "(3 rows)"
    header, rule, *body = lines[:-1]
    gaps = [i for i, c in enumerate(rule) if c == " "]
    assert len(header) <= len(rule) and all(len(b) == len(rule) for b in body)
    assert all(line[i] == " " for line in (header, *body) for i in gaps if i < len(line))


def test_cli_saved_list_views_and_errors(ingested: Ingested,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = ingested
    assert main(["--list"]) == 0
    assert "--param days=7" in capsys.readouterr().out
    assert main(["--views", "--store", str(store.root)]) == 0
    assert "heartbeats: site varchar" in capsys.readouterr().out
    assert main(["--saved", "freshness", "--param", f"now={NOW.isoformat()}",
                 "--store", str(store.root), "--format", "json"]) == 0
    assert {r["site"] for r in json.loads(capsys.readouterr().out)} == {"north", "south", "east"}
    assert main(["--saved", "freshness", "--param", "days=1", "--store", str(store.root)]) == 1
    assert "has no parameter days" in capsys.readouterr().err
    assert main(["SELEC 1", "--store", str(store.root)]) == 1
    assert "Parser Error" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--store", str(store.root)])
