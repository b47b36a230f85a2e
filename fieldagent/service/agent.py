"""The agent: every part of the device wired together, driven one step at a time.

``Agent`` owns the parts (sources, frame queue, camera pipelines, offloader, outbox, signal
batcher, uploader, alert dispatcher, telemetry, model updater) and exposes the steps the
service schedules: ``poll_sources``, ``process_next``, ``housekeeping``, ``upload_step``,
``deliver_alerts``, ``poll_model``. ``runner.py`` runs them on threads and APScheduler jobs
in wall-clock time; the demo and the tests drive the very same steps on a simulated clock.

One image's path through the agent (``process_next``)::

    source file -> CameraPipeline.process -> Offloader.handle (records, alerts + evidence,
    sampled image into the outbox) -> AlertDispatcher.submit (webhook, e-mail) ->
    stats + model trial health -> the source file is finished (deleted / moved) or
    quarantined with a reason file.

Relative paths in the site config (data_dir, inbox folders, the secrets file, a
``file://`` uplink target) are taken relative to the config file's folder.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldagent import __version__
from fieldagent.alerts import Alert
from fieldagent.config.secrets import SecretStore
from fieldagent.config.site import HttpSource, InboxSource, SiteConfig
from fieldagent.datadir import DataDir
from fieldagent.imageref import ImageRef
from fieldagent.inference.session import StressModel
from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.journal import ImageMark, RecordJournal
from fieldagent.offload.offloader import Offloader
from fieldagent.outbox import SqliteOutbox
from fieldagent.pipeline import CameraPipeline, ImageResult
from fieldagent.policy import load_policy
from fieldagent.policy.model import Policy
from fieldagent.service.silence import SilenceWatch
from fieldagent.service.statefile import StateFile
from fieldagent.sinks.dispatch import AlertDispatcher
from fieldagent.sources.errors import SourceError
from fieldagent.sources.http import SnapshotPoller
from fieldagent.sources.inbox import InboxWatcher
from fieldagent.sources.quarantine import Quarantine
from fieldagent.sources.queue import FrameQueue, WorkItem
from fieldagent.telemetry.heartbeat import build_heartbeat
from fieldagent.telemetry.selfalerts import SelfAlerts
from fieldagent.telemetry.stats import AgentStats
from fieldagent.telemetry.system import SystemProbe
from fieldagent.uplink.scheduler import UplinkProblem, UploaderSettings
from fieldagent.uplink.transport import Transport, open_transport
from fieldagent.uplink.uploader import StepResult, Uploader

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
IMAGE_MEMORY = timedelta(days=7)
"""How long a handled image's hash is remembered: an identical file arriving later is new."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Agent:
    """The field agent's parts and steps (module docstring)."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        base_dir: Path | None = None,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: Transport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.site, self.clock = site, clock
        self.base = (base_dir or Path.cwd()).resolve()
        self.paths = DataDir.of_site(site, self.base).ensure()
        self.policy = policy or load_policy(site.policy, relative_to=self.base)
        self.secrets = SecretStore.load(
            self._path(site.secrets_file) if site.secrets_file else None)
        sid, tz = site.site.id, site.site.timezone
        self.started_at = clock()
        self._lock = threading.Lock()  # steps that touch pipelines/state across threads

        # -- outbox, batches, uplink -----------------------------------------------------
        self.outbox = SqliteOutbox(self.paths.outbox, limits=self.policy.outbox_limits(),
                                   clock=clock)
        self.batcher = SignalBatcher(
            self.policy.batching, sid, clock, outbox=self.outbox,
            journal=RecordJournal(self.paths.journal),
            signals=self.policy.klass("signals"))
        self.transport = transport or self._open_transport()
        self.uploader = Uploader(
            self.outbox, self.transport, self.policy, site=sid, tz=tz, clock=clock, sleep=sleep,
            on_problem=self._uplink_problem,
            settings=UploaderSettings(status_path=self.paths.uplink_status))

        saved = StateFile(self.paths.state).load()
        # each camera's checkpoint (committed with its last image) is newer than state.json
        checkpoints = _read_checkpoints(self.batcher.journal.checkpoints())
        samplers = {**(saved.get("samplers") or {}),
                    **{c: ck["sampler"] for c, ck in checkpoints.items() if "sampler" in ck}}
        # the degrade level flows one way: the uploader measures the link and keeps it, the
        # offloader reads it at each image (``DegradeSource``) and keeps less accordingly
        self.offloader = Offloader(
            self.policy, sid, self.outbox, self.batcher, [c.id for c in site.cameras],
            clock=clock, tz=tz, degrade=self.uploader, sampler_states=samplers)

        # -- model and cameras (after the offloader: a rollback at start is reported) --------
        self.updater = self._model_updater()
        self.model = self.updater.load_active() if self.updater else StressModel.load(site.model)
        self.pipelines = {c.id: CameraPipeline(site, c, self.model) for c in site.cameras}

        # -- sources -----------------------------------------------------------------------
        src = site.sources
        self.queue = FrameQueue(src.queue_size, src.shed)
        self.quarantine = Quarantine(self.paths.quarantine,
                                     keep_bytes=src.quarantine_keep_bytes, clock=clock)
        self.sources_ready = threading.Event()  # set by inotify when a file is complete
        self.inboxes: dict[str, InboxWatcher] = {}
        self.pollers: dict[str, SnapshotPoller] = {}
        self._next_poll: dict[str, datetime] = {}
        for cam in site.cameras:
            s = cam.source
            if isinstance(s, InboxSource):
                s = s.model_copy(update={"path": str(self._path(s.path))})
                self.inboxes[cam.id] = InboxWatcher(cam.id, s, clock, quarantine=self.quarantine,
                                                    on_ready=self.sources_ready.set)
            elif isinstance(s, HttpSource):
                self.pollers[cam.id] = SnapshotPoller(
                    cam.id, s, self.secrets, self.paths.snapshots, clock,
                    quarantine=self.quarantine)
                self._next_poll[cam.id] = self.started_at
        for poller in self.pollers.values():
            for item in poller.leftovers():
                self._enqueue(item)

        # -- alerts and telemetry ------------------------------------------------------------
        self.dispatcher = AlertDispatcher(site.alerts, self.paths.alerts_db, self.secrets,
                                          tz, clock)
        self.stats = AgentStats.from_config(site.telemetry, clock)
        self.system = SystemProbe(self.paths.root, clock=clock)
        self.self_alerts = SelfAlerts(site.telemetry.self_alerts, sid, clock)
        self.silence = SilenceWatch(
            sid, {c.id: c.silent_after_minutes for c in site.cameras}, self.started_at)
        self._restore(saved, checkpoints)
        self._next_heartbeat = self.started_at
        self._next_state_save = self.started_at
        self.last_tick: datetime | None = None
        self.active_alerts: dict[str, Alert] = {
            k: _alert_from_dict(d) for k, d in (saved.get("active_alerts") or {}).items()}
        self.camera_status: dict[str, dict[str, Any]] = dict(saved.get("camera_status") or {})
        self.drained: dict[str, Any] | None = None  # set by a drain; status shows it

    # -- steps -------------------------------------------------------------------------------
    def poll_sources(self) -> int:
        """Look for new images: finished inbox files, and snapshots whose time has come.
        Returns how many were queued."""
        n = 0
        now = self.clock()
        for watcher in self.inboxes.values():
            try:
                items = watcher.poll()
            except (OSError, SourceError) as exc:
                log.error("camera %s: cannot read its inbox %s (%s); retrying on the next "
                          "scan", watcher.camera_id, watcher.folder, exc)
                continue
            n += sum(self._enqueue(i) for i in items)
        for cam, poller in self.pollers.items():
            if now < self._next_poll[cam]:
                continue
            self._next_poll[cam] = now + timedelta(seconds=poller.cfg.interval_seconds)
            try:
                n += sum(self._enqueue(i) for i in poller.poll())
            except Exception as exc:  # CameraUnreachable and anything unexpected
                log.warning("%s", exc)
        return n

    def process_next(self, timeout: float = 0.0) -> ImageResult | None:
        """Analyse the oldest queued image, if any, and act on the result."""
        item = self.queue.get(timeout=timeout)
        if item is None:
            return None
        return self.process(item)

    def process(self, item: WorkItem) -> ImageResult:
        """One image through the whole agent (module docstring).

        Exactly once per image file: its records, its mark in the journal and the camera's
        checkpoint commit together, after its alerts and sample are in the outbox and its
        alerts with the sinks. A file offered again (the agent died before the source file
        was finished) is recognised (content hash, camera, modification time) and only
        finished; the same bytes sent again as a new file (a frozen camera) are a new image.
        """
        ref = _identify(item)
        done = None if ref is None else self.batcher.journal.handled(
            ref.ledger_key(item.camera))
        if done is not None:
            return self._already_handled(item, done)
        with self._lock:
            result = self.pipelines[item.camera].process(item.path, captured_at=item.captured_at)
            self.offloader.handle(
                result, item.path, ref=ref,
                checkpoint=lambda: self._checkpoint(item.camera),
                deliver=lambda a: self._alert(a.alert, a.evidence, a.evidence_key,
                                              in_outbox=True))
            if result.status == "ok" and result.captured_at is not None:
                for alert in self.silence.seen(item.camera, result.captured_at):
                    self._alert(alert)
            self.stats.observe_image(result)
            self.camera_status[item.camera] = {
                "last_image": (result.captured_at or self.clock()).isoformat(),
                "status": result.status if result.status == "ok" else result.reason,
                "flags": list(result.quality.flag_names) if result.quality else [],
                "file": item.path.name,
            }
            if self.updater is not None and result.status == "ok":
                self.updater.record(result.timings_ms.get("model", 0.0), ok=True)
            elif self.updater is not None and result.reason == "analysis_failed":
                self.updater.record(0.0, ok=False)
        self._dispose(item, result)
        return result

    def housekeeping(self) -> None:
        """The periodic chores: close due batches, heartbeats, silent cameras, self-alerts,
        the model's trial window, state on disk. Cheap when nothing is due."""
        now = self.clock()
        self.last_tick = now
        self.batcher.poll()
        with self._lock:
            for alert in self.silence.check(now):
                self._alert(alert)
            for alert in self.self_alerts.check(self.stats.snapshot(), self.system.read()):
                self._alert(alert)
            if self.updater is not None:
                tick = self.updater.tick()
                if tick.changed:
                    self._switch_model()
        if now >= self._next_heartbeat:
            self.heartbeat(now)
            self._next_heartbeat = now + timedelta(
                seconds=self.site.telemetry.heartbeat_interval_seconds)
        for watcher in self.inboxes.values():
            watcher.prune_processed()
        if now >= self._next_state_save:
            self.save_state()
            self.batcher.journal.forget_images(now - IMAGE_MEMORY)

    def heartbeat(self, now: datetime | None = None) -> str:
        """Put one heartbeat into the outbox; returns its object key."""
        now = now or self.clock()
        doc = build_heartbeat(
            now, site=self.site.site.id, device=self.site.site.device,
            agent_version=__version__, model_version=self.model.version,
            stats=self.stats.heartbeat_snapshot(), outbox_stats=self.outbox.stats(now=now),
            uplink_status=self.uploader.status(now), system=self.system.read(),
            alerts_active=len(self.active_alerts), alerts_enabled=self.site.alerts.enabled)
        return self.offloader.put_json("heartbeat", doc, when=now)

    def upload_step(self) -> StepResult:
        return self.uploader.step(self.clock())

    def deliver_alerts(self) -> None:
        self.dispatcher.deliver_due()

    def poll_model(self) -> None:
        """Ask the model channel for a newer signed release (no-op when updates are off)."""
        if self.updater is None:
            return
        result = self.updater.poll()
        if result.changed:
            with self._lock:
                self._switch_model()

    def _already_handled(self, item: WorkItem, done: ImageMark) -> ImageResult:
        log.info("camera %s: %s was analysed before as %s (the agent restarted before its "
                 "file was finished); its records are kept once, so it is only finished now",
                 item.camera, item.path.name, done.file)
        source = self._source(item.camera)
        message = f"{item.path.name}: already analysed as {done.file} ({done.outcome})"
        if done.outcome == "ok":
            source.finish(item.path, "ok")
        else:
            source.quarantine(item.path, done.outcome, message)
        return ImageResult(str(item.path), item.camera, "duplicate", "already_handled", message)

    def _checkpoint(self, camera: str) -> str:
        """The camera's analysis state (pipeline and sampler), committed with each image."""
        return json.dumps({"pipeline": self.pipelines[camera].state(),
                           "sampler": self.offloader.samplers[camera].state()},
                          separators=(",", ":"), default=str)

    # -- state -------------------------------------------------------------------------------
    def save_state(self) -> None:
        self._next_state_save = self.clock() + timedelta(
            seconds=self.site.service.state_save_seconds)
        with self._lock:
            state = {
                "version": 1,
                "saved_at": self.clock().isoformat(),
                "cameras": {c: p.state() for c, p in self.pipelines.items()},
                "samplers": self.offloader.state(),
                "silence": self.silence.state(),
                "self_alerts": self.self_alerts.state(),
                "active_alerts": {k: a.to_dict() for k, a in self.active_alerts.items()},
                "camera_status": self.camera_status,
                "model_version": self.model.version,
                "drained": self.drained,
            }
        StateFile(self.paths.state).save(state)

    def _restore(self, saved: dict[str, Any], checkpoints: dict[str, dict[str, Any]]) -> None:
        cameras = {**(saved.get("cameras") or {}),
                   **{c: ck["pipeline"] for c, ck in checkpoints.items() if "pipeline" in ck}}
        for cam, state in cameras.items():
            if cam in self.pipelines:
                self.pipelines[cam].restore(state)
        self.silence.restore(saved.get("silence") or {})
        self.self_alerts.restore(saved.get("self_alerts") or {})

    def close(self) -> None:
        """Save state and release files; in-flight uploads resume at the next start."""
        self.save_state()
        self.dispatcher.close()
        for poller in self.pollers.values():
            poller.close()
        for watcher in self.inboxes.values():
            watcher.close()
        self.batcher.close()
        self.outbox.close()

    # -- helpers -----------------------------------------------------------------------------
    def _alert(self, alert: Alert, evidence: bytes | None = None,
               evidence_key: str | None = None, *, in_outbox: bool = False) -> None:
        """Deliver locally (webhook, e-mail) and to the cloud through the outbox (alerts
        from images are already there: the offloader put them with their evidence)."""
        if alert.state == "raised":
            self.active_alerts[alert.key] = alert
        else:
            self.active_alerts.pop(alert.key, None)
        if not in_outbox:
            self.offloader.put_alert(alert)
        log.log(logging.WARNING if alert.state == "raised" else logging.INFO, "alert %s: %s",
                alert.state, alert.message)
        self.dispatcher.submit(alert, evidence, evidence_key)

    def _enqueue(self, item: WorkItem) -> int:
        shed = self.queue.put(item)
        if shed is None:
            return 1
        log.warning("camera %s: analysis is behind; %s was dropped unanalysed (queue of %d "
                    "full, shed=%s)", shed.camera, shed.path.name, self.queue.maxsize,
                    self.queue.shed)
        self._source(shed.camera).finish(shed.path, "shed")
        return int(shed is not item)

    def _dispose(self, item: WorkItem, result: ImageResult) -> None:
        source = self._source(item.camera)
        if result.status == "ok":
            source.finish(item.path, "ok")
        else:
            source.quarantine(item.path, result.reason or "rejected",
                              result.message or "the image could not be analysed")

    def _source(self, camera: str) -> InboxWatcher | SnapshotPoller | _NoSource:
        return self.inboxes.get(camera) or self.pollers.get(camera) or _NO_SOURCE

    def _switch_model(self) -> None:
        """Use the model the updater made active (trial, committed or rolled back)."""
        assert self.updater is not None
        self.model = self.updater.load_active()
        for p in self.pipelines.values():
            p.model = self.model
        self.stats.reset_reference()
        log.info("now running model %s", self.model.version)

    def _uplink_problem(self, problem: UplinkProblem) -> None:
        self._alert(Alert(self.site.site.id, "-", "-", f"uplink-{problem.kind}", "raised",
                          "warning", "uplink problem", {"kind": problem.kind}, problem.at,
                          problem.at, problem.message))

    def _open_transport(self) -> Transport:
        u = self.site.uplink
        target = u.target
        if target.startswith("file://"):
            target = "file://" + str(self._path(target[len("file://"):]))
        creds = self.secrets.get(u.secret) if u.secret else None
        return open_transport(target, endpoint_url=u.endpoint_url, region=u.region,
                              credentials=creds)

    def _model_updater(self) -> Any:
        cfg = self.site.model_updates
        if not cfg.enabled:
            return None
        from fieldagent.modelupdate.agent import build_updater

        return build_updater(cfg, self)

    def _path(self, p: str | Path) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else self.base / path


def _identify(item: WorkItem) -> ImageRef | None:
    """The image's content hash and name, or None when the file cannot be read (the
    pipeline then rejects it with the reason)."""
    try:
        return ImageRef.of_file(item.path)
    except OSError:
        return None


def _read_checkpoints(raw: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for camera, text in raw.items():
        try:
            doc = json.loads(text)
        except ValueError as exc:
            log.warning("camera %s: its analysis checkpoint is unreadable (%s); it resumes "
                        "from the last saved state", camera, exc)
            continue
        if isinstance(doc, dict):
            out[camera] = doc
    return out


def _alert_from_dict(d: dict[str, Any]) -> Alert:
    fields = {k: v for k, v in d.items() if k in Alert.__dataclass_fields__}
    fields["at"], fields["since"] = (datetime.fromisoformat(d["at"]),
                                     datetime.fromisoformat(d["since"]))
    return Alert(**fields)


class _NoSource:
    """Files handed in directly (``files`` sources, the demo): nothing to finish."""

    def finish(self, path: Path, outcome: str = "ok") -> None:
        return None

    def quarantine(self, path: Path, reason: str, message: str) -> None:
        return None


_NO_SOURCE = _NoSource()
