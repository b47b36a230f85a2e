"""``fieldagent outbox stats --config FILE`` (``outbox_stats_main``) on a real site folder.

The outbox stays open (and locked) by the "agent" while the report is read: the command
reads the database read-only and must not need the lock.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldagent.datadir import DataDir
from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.journal import RecordJournal
from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.outbox_cli import outbox_stats_main
from fieldagent.policy import load_policy
from fieldagent.uplink.budget import ThroughputEstimator
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.uploader import Uploader, UploaderSettings
from fieldcontract.keys import object_key

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # daytime: the default policy holds images


def site_config(tmp_path: Path) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text("version: 1\nsite: {id: gh-1}\npolicy: default\ndata_dir: ./data\n"
                      "uplink: {target: file:///nowhere}\n")
    return config


def blob(seed: str, size: int) -> bytes:
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


def test_stats_report_backlog_drops_drain_time_and_uploader_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_config(tmp_path)
    data = DataDir(tmp_path / "data")
    policy = load_policy("default")
    box = SqliteOutbox(data.outbox, limits=policy.outbox_limits(), clock=lambda: T0)
    for n in range(5):
        body = blob(f"img{n}", 400_000)
        key = object_key("image", "gh-1", T0, hashlib.sha256(body).hexdigest(), suffix=".jpg")
        box.put(NewItem("image", key, 4, T0 - timedelta(hours=n), data=body), now=T0)
    batcher = SignalBatcher(policy.batching, "gh-1", lambda: T0, outbox=box,
                            journal=RecordJournal(data.journal))
    batcher.add([{"zone": "A", "gcc": 0.4, "i": i} for i in range(7)])  # still open
    (tmp_path / "cloud").mkdir()
    estimator = ThroughputEstimator()
    for _ in range(3):
        estimator.observe(1_000_000, 8.0)  # 125 kB/s = 1 Mbit/s measured
    up = Uploader(box, LocalTransport(tmp_path / "cloud"), policy, site="gh-1",
                  clock=lambda: T0, sleep=lambda s: None, estimator=estimator,
                  settings=UploaderSettings(status_path=data.uplink_status))
    assert up.step(T0).action == "idle"  # images wait for the night; writes the status

    assert outbox_stats_main(str(config), now=T0 + timedelta(minutes=1)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["by_kind"]["image"]["ready"] == {"items": 5, "bytes": 2_000_000}
    assert report["held"] == {"items": 5, "bytes": 2_000_000, "cap_bytes": 4_000_000_000}
    assert report["oldest_item_age_s"] == pytest.approx(4 * 3600 + 60)
    assert report["signals_pending_records"] == 7
    assert report["drops"]["cap_reject"] == 0 and report["last_success_at"] is None
    drain = report["drain"]
    assert drain["rate_source"] == "measured" and drain["rate_bytes_per_s"] == 125_000
    # 2 MB at 125 kB/s, only during the 11-hour night window: 16 s / (11/24)
    assert drain["eta_s"] == pytest.approx(16 / (11 / 24), rel=0.01)
    assert report["degrade"]["level"] == 0
    assert report["uplink"]["link"]["state"] == "closed"
    assert report["uplink"]["status_age_s"] == pytest.approx(60)
    assert report["disk_bytes"] >= 2_000_000
    batcher.close()
    box.close()


def test_without_a_measurement_the_policy_rate_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = site_config(tmp_path)
    box = SqliteOutbox(tmp_path / "data" / "outbox",
                       limits=load_policy("default").outbox_limits(), clock=lambda: T0)
    body = blob("alert", 250_000)
    key = object_key("alert", "gh-1", T0, hashlib.sha256(body).hexdigest(), suffix=".jpg")
    box.put(NewItem("alert", key, 0, T0, data=body), now=T0)
    box.close()
    assert outbox_stats_main(str(config), now=T0) == 0
    drain = json.loads(capsys.readouterr().out)["drain"]
    assert drain["rate_source"] == "policy" and drain["rate_bytes_per_s"] == 250_000
    assert drain["eta_s"] == pytest.approx(1.0) and drain["eta"] == "1 s"


def test_missing_outbox_and_bad_config_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert outbox_stats_main(str(site_config(tmp_path))) == 1
    assert "no outbox in" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npolicy: no-such-policy\n")
    assert outbox_stats_main(str(bad)) == 2
    assert "no-such-policy" in capsys.readouterr().err
