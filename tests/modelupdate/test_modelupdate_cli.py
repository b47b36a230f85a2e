"""``fieldagent model status``: current, previous and trial, as text and JSON, read-only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import packaged_model_dir
from fieldagent.modelupdate.cli import model_status_main
from fieldagent.modelupdate.store import ModelStore, Trial, TrialLimits, read_state

NOW = datetime(2025, 5, 1, tzinfo=UTC)
LIMITS = TrialLimits(window_seconds=3600, max_error_rate=0.1, max_p95_latency_ms=50,
                     min_samples=20, max_boots=3)


def _site(tmp_path: Path) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text("data_dir: data\n")
    return config


def _install(store: ModelStore, version: str) -> None:
    staging = store.new_staging()
    store.install_trial(staging, Trial(version, NOW, LIMITS, samples=12, errors=1,
                                       latencies_ms=(2.0, 3.0, 9.0)), NOW)


def test_a_fresh_device_runs_the_packaged_model(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert model_status_main(["--config", str(_site(tmp_path))]) == 0
    out = capsys.readouterr().out
    packaged = read_manifest(packaged_model_dir()).version
    assert f"current:     packaged model {packaged}" in out
    assert "trial:       none" in out and "previous:    none" in out


def test_status_shows_current_previous_and_trial(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = _site(tmp_path)
    store = ModelStore.open(tmp_path / "data" / "models")
    for version in ("0.2.0", "0.3.0"):
        _install(store, version)
        store.commit(NOW)
    _install(store, "0.4.0")
    store.rollback("error_rate", NOW)
    _install(store, "0.5.0")

    assert model_status_main(["--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "current:     0.3.0" in text and "previous:    0.2.0" in text
    assert "trial:       0.5.0" in text and "12 runs, 1 errors, p95 9.0 ms" in text
    assert "running:     0.5.0 (on trial)" in text
    assert "rejected:    0.4.0 (error_rate)" in text

    assert model_status_main(["--config", str(config), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["current"], status["previous"], status["running"]) \
        == ("0.3.0", "0.2.0", "0.5.0")
    assert status["trial"]["version"] == "0.5.0" and status["trial"]["p95_latency_ms"] == 9.0
    assert status["trial"]["boots"] == 0  # reading the status is not a boot
    assert read_state(tmp_path / "data" / "models").trial.boots == 0  # type: ignore[union-attr]


def test_a_bad_config_exits_2_and_an_unreadable_state_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("surprise: 1\n")
    assert model_status_main(["--config", str(bad)]) == 2
    assert "surprise" in capsys.readouterr().err
    config = _site(tmp_path)
    (tmp_path / "data" / "models").mkdir(parents=True)
    (tmp_path / "data" / "models" / "state.json").write_text("{")
    assert model_status_main(["--config", str(config)]) == 1
    assert "unreadable" in capsys.readouterr().err
