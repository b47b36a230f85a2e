"""The device side of model updates: poll, verify, install on trial, commit or roll back.

How the agent uses it (one instance, created at start after ``ModelStore.open``)::

    updater = ModelUpdater(reader, keys, store, site=..., device=..., agent_version=...,
                           clock=..., report=outbox_report, load=model_loader(cfg.model))
    model = updater.load_active()          # the trial, else current, else packaged
    every poll_interval:  if updater.poll().changed: model = updater.load_active()
    after each inference: updater.record(latency_ms, ok)
    every minute:         if updater.tick().changed: model = updater.load_active()

Creating the updater already judges a trial left from the last run: a trial that was
started more than ``max_boots`` times (the agent kept crashing on it) is rolled back
before the agent loads it again.

Every outcome goes to ``report`` as a dict (``ModelReport.to_json()``) with an ``event``
``installed``, ``committed``, ``rolled_back`` or ``refused`` (with ``reason``). A refusal
is reported once per reason and release, not at every poll.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldagent.inference.config import ModelConfig
from fieldagent.inference.errors import ModelError
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import StressModel, packaged_model_dir
from fieldagent.modelupdate.channel import ChannelReader, is_missing
from fieldagent.modelupdate.errors import ManifestRejected
from fieldagent.modelupdate.health import DeviceLimits, Verdict, combine_limits, judge
from fieldagent.modelupdate.install import ModelLoader, Validation, download, validate
from fieldagent.modelupdate.rollout import in_rollout
from fieldagent.modelupdate.signing import verify
from fieldagent.modelupdate.store import LATENCY_SAMPLES, ModelStore, Trial
from fieldagent.uplink.errors import UplinkError, UplinkRejected
from fieldcontract.manifest import (
    MANIFEST_KEY,
    SIGNATURE_KEY,
    ManifestInvalid,
    ReleaseManifest,
    parse_manifest,
    parse_version,
)
from fieldcontract.records import ModelReport

log = logging.getLogger(__name__)

Status = Literal["installed", "up_to_date", "refused", "unavailable", "no_release",
                 "trial_running"]


@dataclass(frozen=True)
class PollResult:
    """What one poll found and did. ``changed``: load the active model again."""

    status: Status
    version: str | None = None
    reason: str | None = None
    message: str = ""

    @property
    def changed(self) -> bool:
        return self.status == "installed"


@dataclass(frozen=True)
class TickResult:
    """What one health tick decided (``verdict`` is None without a trial)."""

    verdict: Verdict | None

    @property
    def decision(self) -> str | None:
        """``wait``, ``commit``, ``rollback``, or None without a trial."""
        return self.verdict.decision if self.verdict else None

    @property
    def reason(self) -> str | None:
        return self.verdict.reason if self.verdict else None

    @property
    def changed(self) -> bool:
        return self.decision in ("commit", "rollback")


def _parse_release(raw: bytes) -> ReleaseManifest:
    """The verified manifest; a format problem becomes the device's ``ManifestRejected``."""
    try:
        return parse_manifest(raw)
    except ManifestInvalid as exc:
        raise ManifestRejected(exc.reason, exc.message) from None


def model_loader(config: ModelConfig) -> ModelLoader:
    """Load a model folder (None = packaged) with the site's model settings."""

    def load(folder: Path | None) -> StressModel:
        return StressModel.load(config.model_copy(update={"path": str(folder) if folder
                                                          else None}))

    return load


class ModelUpdater:
    """Keeps one device's model up to date, safely. Thread-safe: ``record`` may run in the
    analysis thread while ``poll`` and ``tick`` run in the scheduler's."""

    def __init__(
        self,
        reader: ChannelReader,
        trusted_keys: Mapping[str, Ed25519PublicKey],
        store: ModelStore,
        *,
        site: str,
        device: str,
        agent_version: str,
        clock: Callable[[], datetime],
        report: Callable[[dict[str, Any]], None],
        load: ModelLoader | None = None,
        limits: DeviceLimits | None = None,
    ) -> None:
        self.reader, self.trusted, self.store = reader, dict(trusted_keys), store
        self.site, self.device, self.agent_version = site, device, agent_version
        self.clock, self._report = clock, report
        self._load = load or model_loader(ModelConfig())
        self.limits = limits or DeviceLimits()
        self._lock = threading.Lock()
        self._reported: set[tuple[str, str]] = set()
        self._trial = store.state.trial
        self.tick()

    # -- polling ----------------------------------------------------------------------

    def poll(self) -> PollResult:
        """Fetch the channel's manifest and install its release on trial if it is for us."""
        if self.store.state.trial is not None:
            return PollResult("trial_running", self.store.state.trial.version)
        try:
            raw, signature = self._fetch_manifest()
        except UplinkRejected as exc:
            if is_missing(exc):
                return PollResult("no_release", message=str(exc))
            log.error("model channel %s refused: %s", self.reader.name, exc)
            return PollResult("unavailable", reason=exc.code, message=str(exc))
        except UplinkError as exc:
            log.warning("model channel %s unreachable: %s", self.reader.name, exc)
            return PollResult("unavailable", reason=exc.code, message=str(exc))
        digest = hashlib.sha256(raw).hexdigest()[:16]
        release: ReleaseManifest | None = None
        try:
            raw = self._verified(raw, signature)
            release = _parse_release(raw)
            if self._is_current(release):
                return PollResult("up_to_date", release.version)
            self._check_applicable(release)
            return self._install(release)
        except ManifestRejected as exc:
            return self._refused(exc, release.version if release else None, digest)
        except UplinkError as exc:  # during download: try again at the next poll
            log.warning("model download from %s failed: %s", self.reader.name, exc)
            return PollResult("unavailable", release.version if release else None,
                              exc.code, str(exc))

    def _fetch_manifest(self) -> tuple[bytes, bytes | None]:
        raw = self.reader.get(MANIFEST_KEY)
        try:
            return raw, self.reader.get(SIGNATURE_KEY)
        except UplinkRejected as exc:
            if not is_missing(exc):
                raise
            return raw, None

    def _verified(self, raw: bytes, signature: bytes | None) -> bytes:
        """The manifest bytes once their signature checks out.

        A poll that lands between the publisher's two writes (manifest, then signature)
        sees a new manifest with the old signature; fetching both again once tells that
        apart from a tampered manifest, which fails the same way twice.
        """
        try:
            verify(raw, signature, self.trusted)
            return raw
        except ManifestRejected as exc:
            if exc.reason != "bad_signature":
                raise
            again = self._fetch_manifest()
            if again == (raw, signature):
                raise
        verify(again[0], again[1], self.trusted)
        return again[0]

    def _is_current(self, release: ReleaseManifest) -> bool:
        return release.parsed_version == parse_version(self.running_version())

    def _check_applicable(self, release: ReleaseManifest) -> None:
        """Refuse what is expired, not newer, failed before, too new for us, or not for us."""
        now = self.clock()
        name = self._running_manifest_name()
        if release.name != name:
            raise ManifestRejected("wrong_model", f"the channel carries model {release.name!r} "
                                   f"but this device runs {name!r}; check model_updates.channel")
        if now >= release.expires_at:
            raise ManifestRejected(
                "expired", f"the manifest for {release.version} expired at "
                f"{release.expires_at.isoformat()} (device time {now.isoformat()}); publish "
                "it again, or check the device clock")
        running = self.running_version()
        if release.parsed_version < parse_version(running):
            raise ManifestRejected("older", f"release {release.version} is older than the "
                                   f"running model {running}; not downgrading")
        if release.version in self.store.state.rejected:
            raise ManifestRejected(
                "rejected_before", f"release {release.version} already failed on this "
                f"device ({self.store.state.rejected[release.version]}); waiting for a newer one")
        if release.min_agent_version and (parse_version(self.agent_version)
                                           < parse_version(release.min_agent_version)):
            raise ManifestRejected(
                "agent_too_old", f"release {release.version} needs agent "
                f"{release.min_agent_version} or newer, this is {self.agent_version}; "
                "upgrade the agent")
        if not in_rollout(self.site, self.device, release.rollout.salt, release.rollout.percent):
            raise ManifestRejected("not_in_rollout", f"release {release.version} is rolled out "
                                   f"to {release.rollout.percent}% of devices, not this one yet")

    def _install(self, release: ReleaseManifest) -> PollResult:
        staging = self.store.new_staging()
        try:
            golden = download(self.reader, release, staging)
            checked = validate(staging, release, golden, self._load, release.latency_budget_ms)
        except ManifestRejected as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if exc.reason != "artifact_missing":  # may appear later: not a verdict on it
                self.store.reject(release.version, exc.reason, self.clock())
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._start_trial(release, staging, checked)

    def _start_trial(self, release: ReleaseManifest, staging: Path,
                     checked: Validation) -> PollResult:
        now = self.clock()
        previous = self.running_version()
        trial = Trial(release.version, now, combine_limits(release.health, self.limits))
        with self._lock:
            self.store.install_trial(staging, trial, now)
            self._trial = trial
        message = f"model {release.version} installed on trial (was {previous})"
        log.info(message)
        self._emit("installed", release.version, None, message,
                   from_version=previous, **checked.metrics())
        return PollResult("installed", release.version, message=message)

    def _refused(self, exc: ManifestRejected, version: str | None, digest: str) -> PollResult:
        key = (exc.reason, version or digest)
        if exc.reason != "rejected_before" and key not in self._reported:
            self._reported.add(key)
            log.warning("model release refused (%s): %s", exc.reason, exc.message)
            self._emit("refused", version, exc.reason, exc.message, manifest_sha256=digest)
        return PollResult("refused", version, exc.reason, exc.message)

    # -- trial health -----------------------------------------------------------------

    def record(self, latency_ms: float, ok: bool) -> None:
        """Count one inference run of the active model (only a trial is judged)."""
        with self._lock:
            if self._trial is None:
                return
            latencies = self._trial.latencies_ms
            if ok:
                latencies = (*latencies, float(latency_ms))[-LATENCY_SAMPLES:]
            self._trial = replace(self._trial, samples=self._trial.samples + 1,
                                  errors=self._trial.errors + (0 if ok else 1),
                                  latencies_ms=latencies)

    def tick(self) -> TickResult:
        """Judge the trial: commit, roll back, or save its counters and wait."""
        with self._lock:
            trial = self._trial
            if trial is None:
                return TickResult(None)
            now = self.clock()
            verdict = judge(trial, now)
            if verdict.decision == "wait":
                if trial != self.store.state.trial:
                    self.store.update_trial(trial)
                return TickResult(verdict)
            self.store.update_trial(trial)
            if verdict.decision == "commit":
                self.store.commit(now)
                message = f"model {trial.version} committed after a healthy trial"
            else:
                self.store.rollback(verdict.reason or "unhealthy", now)
                message = (f"model {trial.version} rolled back ({verdict.reason}); running "
                           f"{self.running_version()} again")
            self._trial = None
        event = "committed" if verdict.decision == "commit" else "rolled_back"
        log.log(logging.INFO if event == "committed" else logging.WARNING, message)
        self._emit(event, trial.version, verdict.reason, message, boots=trial.boots,
                   **verdict.metrics())
        return TickResult(verdict)

    # -- loading ----------------------------------------------------------------------

    def load_active(self) -> StressModel:
        """Load the model that should run; a trial that fails to load is rolled back."""
        folder = self.store.active_dir()
        try:
            return self._load(folder)
        except ModelError as exc:
            with self._lock:
                trial = self._trial
                if trial is None or folder is None:
                    raise
                self.store.rollback("load_failed", self.clock())
                self._trial = None
            message = f"model {trial.version} does not load ({exc}); rolled back"
            log.error(message)
            self._emit("rolled_back", trial.version, "load_failed", message, boots=trial.boots)
        return self._load(self.store.active_dir())

    def running_version(self) -> str:
        """The version that runs now (trial, else current, else the packaged model's)."""
        return self.store.active_version() or read_manifest(packaged_model_dir()).version

    def _running_manifest_name(self) -> str:
        return read_manifest(self.store.active_dir() or packaged_model_dir()).name

    def _emit(self, event: str, version: str | None, reason: str | None, message: str,
              **metrics: Any) -> None:
        self._report(ModelReport(
            at=self.clock(), event=event, version=version, reason=reason, message=message,
            site=self.site, device=self.device, agent_version=self.agent_version,
            running_version=self.running_version(), figures=metrics,
        ).to_json())
