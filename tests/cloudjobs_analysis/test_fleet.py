"""The fleet view: silent first with the right age, then behind, old model, disk low, ok."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudjobs.fleet import FleetConfig, fleet_table
from cloudjobs.fleet.cli import main, parse_minutes
from cloudjobs.fleet.render import as_table
from cloudjobs.lake.errors import LakeError
from tests.cloudjobs_analysis.curated import NEW_MODEL, OLD_MODEL, Planted


def _device(rows: list[dict[str, Any]], site: str, device: str) -> dict[str, Any]:
    (row,) = [r for r in rows if (r["site"], r["device"]) == (site, device)]
    return row


def test_silent_site_first_with_its_age_then_the_others(planted_template: Planted) -> None:
    p = planted_template
    rows = fleet_table(p.root, p.now)
    assert [r["status"] for r in rows] == ["silent", "behind", "old model", "disk low", "ok"]
    silent = rows[0]
    assert (silent["site"], silent["device"]) == (p.silent_site, "east-1")
    last = p.now.replace(hour=23, minute=30) - timedelta(days=p.silent_days)
    assert silent["last_seen"] == last
    assert silent["age_s"] == (p.now - last).total_seconds()
    assert "no heartbeat for 2d" in silent["reason"]
    assert [(r["site"], r["device"]) for r in rows[1:4]] == [
        p.behind_device, p.old_model_device, p.disk_low_device]


def test_old_model_device_is_flagged_with_its_rollback(planted_template: Planted) -> None:
    p = planted_template
    rows = fleet_table(p.root, p.now)
    old = _device(rows, *p.old_model_device)
    assert old["status"] == "old model"
    assert old["model_version"] == OLD_MODEL and old["fleet_model_version"] == NEW_MODEL
    assert old["rollout_event"] == "rolled_back"
    assert "golden vectors differ" in old["reason"]
    ok = _device(rows, "west", "west-1")
    assert ok["rollout_event"] == "committed" and ok["status"] == "ok" and ok["reason"] == ""


def test_backlog_disk_and_alerts_come_from_the_newest_reports(planted_template: Planted) -> None:
    p = planted_template
    rows = fleet_table(p.root, p.now)
    behind = _device(rows, *p.behind_device)
    assert behind["backlog_items"] == 5000 and behind["backlog_age_s"] == 3 * 3600
    assert "5000 items waiting, oldest 3h" in behind["reason"]
    disk = _device(rows, *p.disk_low_device)
    assert disk["disk_free_bytes"] == (1 << 30) // 5
    assert disk["alerts_raised"] == 2  # raised within the day; the resolved and older not
    assert _device(rows, "west", "west-1")["alerts_raised"] == 0


def test_thresholds_and_target_model_change_the_verdict(planted_template: Planted) -> None:
    p = planted_template
    lenient = FleetConfig(silent_after_minutes=3 * 24 * 60, behind_after_minutes=4 * 60,
                          disk_low_gb=0.1)
    rows = fleet_table(p.root, p.now, config=lenient)
    assert _device(rows, p.silent_site, "east-1")["status"] == "ok"
    assert _device(rows, *p.behind_device)["status"] == "ok"
    assert _device(rows, *p.disk_low_device)["status"] == "ok"
    everyone_old = fleet_table(p.root, p.now, config=lenient, model_version="0.3.0")
    assert {r["status"] for r in everyone_old} == {"old model"}


def test_a_site_without_heartbeats_is_listed_as_silent(planted: Planted) -> None:
    shutil.rmtree(planted.root / "curated" / "heartbeats" / "site=north")
    rows = fleet_table(planted.root, planted.now)
    north = [r for r in rows if r["site"] == "north"]
    assert len(north) == 1 and north[0]["device"] is None
    assert north[0]["status"] == "silent" and "no heartbeat in the last" in north[0]["reason"]
    assert rows[0]["site"] == "north"  # never heard of sorts before a 2-day silence


def test_table_is_aligned_and_readable(planted_template: Planted) -> None:
    rows = fleet_table(planted_template.root, planted_template.now)
    lines = as_table(rows).splitlines()
    assert lines[0].split()[:3] == ["SITE", "DEVICE", "STATUS"]
    assert len(lines) == 1 + len(rows)
    for heading in ("STATUS", "AGE", "MODEL", "REASON"):
        column = lines[0].index(heading)
        assert all(line[column - 2:column] == "  " for line in lines[1:]), heading
    assert "SILENT" in lines[1] and "2d" in lines[1]


def test_cli_formats(planted_template: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    p = planted_template
    base = ["--lake", str(p.root), "--now", p.now.isoformat()]
    assert main([*base, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["site"] == p.silent_site and rows[0]["last_seen"].endswith("+00:00")
    assert main([*base, "--format", "csv", "--silent-after", "3d"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert parsed[0]["status"] == "behind"  # east no longer counts as silent
    assert main(base) == 0
    assert capsys.readouterr().out.startswith("SITE")


def test_cli_errors_speak(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake", "/nonexistent/lake"]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--lake", "/x", "--silent-after", "soon"])
    assert exc.value.code == 2
    assert "not a duration" in capsys.readouterr().err


def test_parse_minutes() -> None:
    assert parse_minutes("30m") == 30
    assert parse_minutes("2h") == 120
    assert parse_minutes("1h30m") == 90
    assert parse_minutes("90s") == 1.5
    assert parse_minutes("1d") == 1440


def test_empty_lake_is_refused(tmp_path: Path, planted_template: Planted) -> None:
    with pytest.raises(LakeError, match="cloudjobs ingest"):
        fleet_table(tmp_path, planted_template.now)
