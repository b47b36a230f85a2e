"""``cloudjobs release-outcomes``: per-version summary of device reports, automatic halt."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudjobs.release.channel import ChannelWriter
from cloudjobs.release.keys import create_keys, read_private_key
from cloudjobs.release.outcomes import halt_if_failing, main, summarise
from cloudjobs.release.publish import ReleaseOptions, publish_release, read_latest
from fieldagent.inference.config import ModelConfig
from fieldagent.modelupdate.channel import open_channel
from fieldagent.modelupdate.golden import make_golden
from fieldagent.modelupdate.signing import trusted_keys
from fieldagent.modelupdate.store import ModelStore
from fieldagent.modelupdate.updater import ModelUpdater, model_loader
from tests.cloudjobs_release.conftest import ModelFactory

NOW = datetime(2025, 5, 1, tzinfo=UTC)


def _report(device: str, event: str, reason: str | None = None, version: str = "0.2.0",
            minute: int = 0) -> dict[str, Any]:
    return {"kind": "model_report", "event": event, "reason": reason, "version": version,
            "site": "site-a", "device": device,
            "at": (NOW + timedelta(minutes=minute)).isoformat()}


def test_each_device_counts_once_by_its_last_outcome() -> None:
    outcomes = summarise([
        _report("d1", "installed", minute=1), _report("d1", "committed", minute=9),
        _report("d2", "installed", minute=1), _report("d2", "rolled_back", "error_rate", minute=5),
        _report("d3", "refused", "golden_mismatch", minute=2),
        _report("d4", "refused", "not_in_rollout", minute=2),
        _report("d5", "installed", minute=3),
        _report("d6", "committed", version="0.1.5"),
        {"kind": "heartbeat", "version": "0.2.0"},
    ])
    o = outcomes["0.2.0"]
    assert (o.count("committed"), o.count("failed"), o.count("on_trial")) == (1, 2, 1)
    assert o.failure_share == pytest.approx(2 / 3)
    assert o.refused == {"golden_mismatch": 1, "not_in_rollout": 1}
    assert o.rolled_back == {"error_rate": 1}
    assert outcomes["0.1.5"].failure_share == 0.0


def test_reports_are_taken_in_time_order() -> None:
    o = summarise([_report("d1", "committed", minute=9), _report("d1", "installed", minute=1)])
    assert o["0.2.0"].count("committed") == 1


@pytest.fixture
def channel(tmp_path: Path, make_model: ModelFactory) -> ChannelWriter:
    writer = ChannelWriter.open(f"file://{tmp_path / 'channel'}")
    return writer


def _publish(channel: ChannelWriter, key: Ed25519PrivateKey, model: Path,
             **options: Any) -> None:
    publish_release(channel, key, model, ReleaseOptions(**{"percent": 50.0, **options}), NOW)


@pytest.mark.parametrize(("reports", "halted", "needle"), [
    ([_report(f"d{i}", "rolled_back", "crash_loop") for i in range(3)], True, "halted"),
    ([_report(f"d{i}", "rolled_back", "crash_loop") for i in range(2)], False, "fewer than 3"),
    ([_report(f"d{i}", "committed") for i in range(9)]
     + [_report("d9", "rolled_back", "latency")], False, "within"),
])
def test_halt_only_when_enough_devices_fail(
    channel: ChannelWriter, make_model: ModelFactory, reports: list[dict[str, Any]],
    halted: bool, needle: str,
) -> None:
    key = Ed25519PrivateKey.generate()
    _publish(channel, key, make_model("0.2.0"))
    decision = halt_if_failing(channel, key, summarise(reports), max_failure_share=0.2,
                               min_devices=3, now=NOW)
    assert decision.halted is halted and needle in decision.message
    latest = read_latest(channel)
    assert latest is not None and latest.rollout.percent == (0.0 if halted else 50.0)
    again = halt_if_failing(channel, key, summarise(reports), max_failure_share=0.2,
                            min_devices=3, now=NOW)
    assert not again.halted


def test_devices_refusing_bad_golden_vectors_halt_the_release_end_to_end(
    tmp_path: Path, make_model: ModelFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    key_dir = tmp_path / "keys"
    create_keys(key_dir)
    key = read_private_key(key_dir)
    writer = ChannelWriter.open(f"file://{tmp_path / 'channel'}")
    other = make_model("0.1.9")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["classes"] = list(reversed(manifest["classes"]))
    (other / "manifest.json").write_text(json.dumps(manifest))
    publish_release(writer, key, make_model("0.2.0"), ReleaseOptions(percent=100.0),
                    NOW, golden=make_golden(other))
    reports: list[dict[str, Any]] = []
    for device in ("d1", "d2", "d3"):
        updater = ModelUpdater(
            open_channel(f"file://{tmp_path / 'channel'}"), trusted_keys([key.public_key()]),
            ModelStore.open(tmp_path / device), site="site-a", device=device,
            agent_version="0.1.0", clock=lambda: NOW, report=reports.append,
            load=model_loader(ModelConfig(warmup_runs=0)))
        assert updater.poll().reason == "golden_mismatch"
    lines = tmp_path / "reports.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in reports) + "\n")
    assert main([str(lines), "--channel", f"file://{tmp_path / 'channel'}",
                 "--key", str(key_dir)]) == 0
    out = capsys.readouterr().out
    assert "0.2.0: 0 committed, 3 failed" in out and "golden_mismatch 3" in out
    assert "halted" in out
    latest = read_latest(writer)
    assert latest is not None and latest.rollout.percent == 0.0


def test_summary_as_json_without_a_channel(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reports.json"
    path.write_text(json.dumps([_report("d1", "committed")]))
    assert main([str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    version = out["versions"]["0.2.0"]
    assert (version["committed"], version["events"], out["halt"]) == (1, {"committed": 1}, None)


def test_bad_report_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reports.jsonl"
    path.write_text("{not json\n")
    assert main([str(path)]) == 2
    assert "error:" in capsys.readouterr().err
