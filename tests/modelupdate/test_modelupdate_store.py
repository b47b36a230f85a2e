"""The model store: atomic state, boot counting, slots kept and pruned, damage survived."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fieldagent.datadir import ModelStoreLayout
from fieldagent.modelupdate.errors import ModelStoreError
from fieldagent.modelupdate.store import (
    ModelStore,
    StoreState,
    Trial,
    TrialLimits,
    read_state,
)

STATE_FILE = ModelStoreLayout(Path()).state.name
NOW = datetime(2025, 5, 1, tzinfo=UTC)
LIMITS = TrialLimits(window_seconds=60, max_error_rate=0.1, max_p95_latency_ms=50,
                     min_samples=1, max_boots=3)


def _install(store: ModelStore, version: str) -> None:
    staging = store.new_staging()
    (staging / "manifest.json").write_text(json.dumps({"version": version}))
    store.install_trial(staging, Trial(version, NOW, LIMITS), NOW)


def _commit(store: ModelStore, version: str) -> None:
    _install(store, version)
    store.commit(NOW)


def test_an_empty_store_runs_the_packaged_model(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path / "models")
    assert store.state == StoreState()
    assert store.active_dir() is None and store.active_version() is None


def test_install_commit_and_state_survive_reopening(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path)
    _install(store, "0.2.0")
    assert store.active_dir() == tmp_path / "slots" / "0.2.0"
    assert (store.active_dir() / "manifest.json").is_file()  # type: ignore[operator]
    store.commit(NOW)
    again = ModelStore.open(tmp_path)
    assert (again.state.current, again.state.previous, again.state.trial) \
        == ("0.2.0", None, None)
    assert [h["event"] for h in again.state.history] == ["installed", "committed"]


def test_a_leftover_tmp_file_is_ignored(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path)
    _commit(store, "0.2.0")
    # a power cut while writing the next state: the torn temp file must not count
    (tmp_path / f".{STATE_FILE}.tmp").write_text('{"current": "9.9.9", "prev')
    again = ModelStore.open(tmp_path)
    assert again.state.current == "0.2.0"
    _commit(again, "0.3.0")  # and the next write replaces the leftover
    assert read_state(tmp_path).current == "0.3.0"
    assert not (tmp_path / f".{STATE_FILE}.tmp").exists()


def test_an_unreadable_state_is_moved_aside_and_the_packaged_model_runs(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path)
    _commit(store, "0.2.0")
    (tmp_path / STATE_FILE).write_text("{ torn")
    with pytest.raises(ModelStoreError, match="unreadable"):
        read_state(tmp_path)
    again = ModelStore.open(tmp_path)
    assert again.active_dir() is None
    assert len(list(tmp_path.glob(STATE_FILE + ".corrupt-*"))) == 1


def test_boots_are_counted_by_open_only_while_on_trial(tmp_path: Path) -> None:
    ModelStore.open(tmp_path)
    assert ModelStore.open(tmp_path).state.trial is None
    _install(ModelStore.open(tmp_path), "0.2.0")
    assert [ModelStore.open(tmp_path).state.trial.boots for _ in range(3)] == [1, 2, 3]  # type: ignore[union-attr]
    ModelStore(tmp_path)  # plain construction (and read_state) only read
    read_state(tmp_path)
    assert read_state(tmp_path).trial.boots == 3  # type: ignore[union-attr]


def test_rollback_drops_the_trial_and_its_slot(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path)
    _commit(store, "0.2.0")
    _install(store, "0.3.0")
    store.rollback("error_rate", NOW)
    assert store.active_version() == "0.2.0"
    assert not (tmp_path / "slots" / "0.3.0").exists()
    assert read_state(tmp_path).rejected == {"0.3.0": "error_rate"}


def test_old_slots_are_pruned_but_current_and_previous_are_kept(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path, keep_slots=3)
    for version in ("0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.10.0"):
        _commit(store, version)
    names = sorted(p.name for p in (tmp_path / "slots").iterdir())
    # 0.10.0 current, 0.5.0 previous, plus the newest older one (versions, not strings)
    assert names == ["0.10.0", "0.4.0", "0.5.0"]


def test_leftover_staging_is_removed_at_open(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path)
    staging = store.new_staging()
    (staging / "half.onnx").write_bytes(b"x")
    ModelStore.open(tmp_path)
    assert not staging.exists()


def test_a_missing_slot_falls_back_to_the_packaged_model(tmp_path: Path) -> None:
    store = ModelStore.open(tmp_path)
    _commit(store, "0.2.0")
    (tmp_path / "slots" / "0.2.0" / "manifest.json").unlink()
    (tmp_path / "slots" / "0.2.0").rmdir()
    assert store.active_dir() is None


@pytest.mark.parametrize("version", ["..", "a/b", ".hidden", ""])
def test_a_version_cannot_escape_the_slots_folder(tmp_path: Path, version: str) -> None:
    with pytest.raises(ModelStoreError):
        ModelStore(tmp_path).slot_dir(version)


def test_commit_without_a_trial_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match="no model is on trial"):
        ModelStore.open(tmp_path).commit(NOW)
