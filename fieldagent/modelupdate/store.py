"""The on-device model store: one folder per installed version and a small state file.

Layout under ``root`` (``<data_dir>/models``; the names are
``fieldagent.datadir.ModelStoreLayout``'s)::

    state.json          current, previous, trial, rejected versions, recent history
    slots/<version>/    a complete, verified model folder (manifest.json + ONNX files)
    staging/<random>/   a download in progress; removed at the next open

Meaning of the state:

* ``current`` is the last *committed* version (``None`` = the model packaged with the
  agent); ``previous`` the one committed before it.
* ``trial`` is a version on probation: it runs, but it is not committed. A rollback simply
  drops the trial, so the device returns to ``current``; a commit makes it ``current``.
* ``rejected`` remembers versions that failed on this device (rolled back, or refused after
  download), so the same release is not downloaded and tried again at every poll.

``state.json`` is replaced atomically (write ``state.json.tmp``, fsync, rename, fsync the
folder): after a power cut it is either the old or the new state, never a torn one, and a
``state.json.tmp`` left behind is ignored. A slot becomes visible by renaming a fully
written, fsynced staging folder, so ``slots/`` never holds half a model.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from fieldagent.datadir import ModelStoreLayout
from fieldagent.fsutil import fsync_dir, write_atomic
from fieldagent.modelupdate.errors import ModelStoreError

log = logging.getLogger(__name__)

HISTORY_LIMIT = 50
LATENCY_SAMPLES = 512  # kept for the trial's p95: enough for a stable percentile, small file
_SLOT_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,127}")


@dataclass(frozen=True)
class TrialLimits:
    """What the trial must stay within to be committed (device and release combined)."""

    window_seconds: float
    max_error_rate: float
    max_p95_latency_ms: float
    min_samples: int
    max_boots: int


@dataclass(frozen=True)
class Trial:
    """A version on probation and what has been measured of it so far."""

    version: str
    started_at: datetime
    limits: TrialLimits
    boots: int = 0
    samples: int = 0
    errors: int = 0
    latencies_ms: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["latencies_ms"] = list(self.latencies_ms)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Trial:
        return cls(
            version=str(raw["version"]), started_at=datetime.fromisoformat(raw["started_at"]),
            limits=TrialLimits(**raw["limits"]), boots=int(raw["boots"]),
            samples=int(raw["samples"]), errors=int(raw["errors"]),
            latencies_ms=tuple(float(x) for x in raw["latencies_ms"]),
        )


@dataclass(frozen=True)
class StoreState:
    """Everything ``state.json`` holds."""

    current: str | None = None
    previous: str | None = None
    trial: Trial | None = None
    rejected: Mapping[str, str] = field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1, "current": self.current, "previous": self.previous,
            "trial": self.trial.to_dict() if self.trial else None,
            "rejected": dict(self.rejected), "history": [dict(h) for h in self.history],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StoreState:
        return cls(
            current=raw["current"], previous=raw["previous"],
            trial=Trial.from_dict(raw["trial"]) if raw["trial"] else None,
            rejected={str(k): str(v) for k, v in raw["rejected"].items()},
            history=tuple(dict(h) for h in raw["history"]),
        )


def read_state(root: Path) -> StoreState:
    """Read ``root/state.json`` without changing anything; no file = the empty state."""
    path = ModelStoreLayout(root).state
    try:
        raw = json.loads(path.read_bytes())
        return StoreState.from_dict(raw)
    except FileNotFoundError:
        return StoreState()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelStoreError(f"{path}: the model state file is unreadable ({exc}); the "
                              "agent moves it aside at its next start and runs the "
                              "packaged model") from None


class ModelStore:
    """Slots and state under ``root``. Open it with ``ModelStore.open`` in the agent."""

    def __init__(self, root: Path, *, keep_slots: int = 3) -> None:
        self.root = Path(root)
        self.files = ModelStoreLayout(self.root)
        self.keep_slots = keep_slots
        self._state = read_state(self.root)

    @classmethod
    def open(cls, root: Path, *, keep_slots: int = 3) -> ModelStore:
        """Open the store at agent start: count a boot of a trial, clean leftovers.

        A trial that keeps being restarted (the agent crashed while running it) shows up
        as a growing ``boots`` count; the updater rolls it back past its limit. An
        unreadable state file is moved aside and the packaged model runs.
        """
        root = Path(root)
        files = ModelStoreLayout(root)
        try:
            files.slots.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelStoreError(f"{root}: cannot create the model store ({exc.strerror}); "
                                  "give the agent write access to its data_dir") from None
        shutil.rmtree(files.staging, ignore_errors=True)
        try:
            store = cls(root, keep_slots=keep_slots)
        except ModelStoreError as exc:
            aside = root / f"{files.state.name}.corrupt-{uuid.uuid4().hex[:8]}"
            os.replace(files.state, aside)
            log.error("%s; moved it to %s", exc, aside)
            store = cls(root, keep_slots=keep_slots)
        if store.state.trial is not None:
            trial = store.state.trial
            store._save(replace(store.state, trial=replace(trial, boots=trial.boots + 1)))
        store.prune()
        return store

    @property
    def state(self) -> StoreState:
        return self._state

    def slot_dir(self, version: str) -> Path:
        """The folder of an installed version."""
        if not _SLOT_NAME.fullmatch(version) or ".." in version:
            raise ModelStoreError(f"version {version!r} cannot name a model folder")
        return self.files.slots / version

    def active_version(self) -> str | None:
        """The version that should run now: the trial, else current (None = packaged)."""
        return self._state.trial.version if self._state.trial else self._state.current

    def active_dir(self) -> Path | None:
        """The model folder to load (``ModelConfig.path``); None = the packaged model.

        A slot that has gone missing (deleted by hand, a disk problem) is logged and the
        packaged model runs instead of the agent failing to start.
        """
        version = self.active_version()
        if version is None:
            return None
        folder = self.slot_dir(version)
        if not folder.is_dir():
            log.error("model folder %s is missing; running the packaged model", folder)
            return None
        return folder

    def new_staging(self) -> Path:
        """A fresh, empty folder to download a release into."""
        folder = self.files.staging / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def install_trial(self, staging: Path, trial: Trial, now: datetime) -> None:
        """Make a verified staging folder the trial slot, then record the trial."""
        slot = self.slot_dir(trial.version)
        if slot.exists():  # a leftover of an install cut short before its state was written
            shutil.rmtree(slot)
        fsync_dir(staging)  # its files were fsynced as they were written (write_file)
        os.replace(staging, slot)
        fsync_dir(slot.parent)
        self._save(self._with_event(replace(self._state, trial=trial), now, "installed",
                                    trial.version))

    def update_trial(self, trial: Trial) -> None:
        """Persist the trial's counters."""
        self._save(replace(self._state, trial=trial))

    def commit(self, now: datetime) -> Trial:
        """The trial becomes current; the old current becomes previous."""
        trial = self._require_trial()
        state = replace(self._state, current=trial.version, previous=self._state.current,
                        trial=None)
        self._save(self._with_event(state, now, "committed", trial.version))
        self.prune()
        return trial

    def rollback(self, reason: str, now: datetime) -> Trial:
        """Drop the trial (current runs again), remember its version as rejected."""
        trial = self._require_trial()
        rejected = {**self._state.rejected, trial.version: reason}
        state = replace(self._state, trial=None, rejected=rejected)
        self._save(self._with_event(state, now, "rolled_back", trial.version, reason))
        shutil.rmtree(self.slot_dir(trial.version), ignore_errors=True)
        return trial

    def reject(self, version: str, reason: str, now: datetime) -> None:
        """Remember that ``version`` failed its checks on this device."""
        rejected = {**self._state.rejected, version: reason}
        self._save(self._with_event(replace(self._state, rejected=rejected), now, "refused",
                                    version, reason))

    def prune(self) -> None:
        """Keep at most ``keep_slots`` slots; current, previous and trial are always kept."""
        keep = {v for v in (self._state.current, self._state.previous,
                            self._state.trial.version if self._state.trial else None) if v}
        others = sorted((p for p in self.files.slots.iterdir() if p.name not in keep),
                        key=lambda p: _version_key(p.name), reverse=True)
        for old in others[max(0, self.keep_slots - len(keep)):]:
            shutil.rmtree(old, ignore_errors=True)

    def _require_trial(self) -> Trial:
        if self._state.trial is None:
            raise ModelStoreError("no model is on trial")
        return self._state.trial

    @staticmethod
    def _with_event(state: StoreState, now: datetime, event: str, version: str,
                    reason: str | None = None) -> StoreState:
        entry = {"at": now.isoformat(), "event": event, "version": version}
        if reason:
            entry["reason"] = reason
        return replace(state, history=(*state.history, entry)[-HISTORY_LIMIT:])

    def _save(self, state: StoreState) -> None:
        write_atomic(self.files.state, json.dumps(state.to_dict(), indent=1).encode())
        self._state = state



def write_file(path: Path, data: bytes) -> None:
    """Write a new file and fsync it (staging downloads)."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())



def _version_key(name: str) -> tuple[int, Version | str]:
    """Sort slot names by version; a name that is no version sorts oldest."""
    try:
        return (1, Version(name))
    except InvalidVersion:
        return (0, name)
