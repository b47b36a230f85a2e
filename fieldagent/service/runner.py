"""``fieldagent run``: the agent as a long-running service.

Threads: one analyses queued images (``Agent.process_next``), one uploads
(``Uploader.run``), one delivers alerts (``AlertDispatcher.run``); an APScheduler
``BackgroundScheduler`` runs the periodic jobs (scan sources, housekeeping, model channel
poll, systemd watchdog) with ``max_instances=1`` and ``coalesce`` so a slow job never piles
up behind itself. ``/metrics`` and ``/healthz`` are served on loopback by default.

SIGTERM or SIGINT stops it cleanly: no new work is taken; the image being analysed is
finished; the upload step in progress ends (a multipart upload keeps its finished parts in
the outbox and resumes at the next start); images still queued stay in the inbox's
``.taken`` folder and are offered again at the next start; state is saved. A second signal
while stopping exits at once: everything on disk is crash-safe anyway.

SIGUSR1 stops the same way and then drains before exiting (``drain.py``): every waiting
image analysed, the open batch closed, what the policy allows uploaded, alerts delivered;
``fieldagent status`` then says whether it is safe to cut the power.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from fieldagent import __version__
from fieldagent.config.site import SiteConfig
from fieldagent.service.agent import Agent
from fieldagent.service.drain import DrainReport, drain
from fieldagent.service.systemd import Notifier
from fieldagent.telemetry.prom import FieldAgentCollector, MetricSources, MetricsServer, SinkStatus

log = logging.getLogger(__name__)


class Service:
    """Runs an ``Agent`` until ``stop()``; see the module docstring."""

    def __init__(self, agent: Agent, notifier: Notifier | None = None) -> None:
        self.agent = agent
        self.notifier = notifier or Notifier()
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
        self._metrics: MetricsServer | None = None
        self._worker_beat = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        a, cfg = self.agent, self.agent.site
        svc = cfg.service
        self._thread("analysis", self._analyse)
        self._thread("uplink", lambda: a.uploader.run(self.stopping))
        self._thread("alerts", lambda: a.dispatcher.run(self.stopping))
        self._thread("sources", lambda: self._scan(svc.scan_interval_seconds))
        self._job(a.housekeeping, svc.housekeeping_interval_seconds, "housekeeping")
        if a.updater is not None:
            self._job(a.poll_model, cfg.model_updates.poll_interval_seconds, "model channel")
        if self.notifier.watchdog_s:
            self._job(self._watchdog, self.notifier.watchdog_s / 3, "systemd watchdog")
        self._scheduler.start()
        a.housekeeping()  # first heartbeat and state at once
        m = cfg.telemetry.metrics
        if m.enabled:
            self._metrics = MetricsServer(m.host, m.port, FieldAgentCollector(self._sources()),
                                         healthy=self.healthy)
            self._metrics.start()
            log.info("metrics on %s", self._metrics.url)
        status = (f"fieldagent {__version__} running: site {cfg.site.id}, "
                  f"{len(cfg.cameras)} cameras, model {a.model.version}, policy "
                  f"{a.policy.name}")
        if not cfg.alerts.enabled:
            status += "; ALERTS ARE OFF (alerts.enabled: false)"
            log.warning("alerts are off (alerts.enabled: false in the site config): no grower "
                        "or camera alert will be raised until it is set back to true")
        log.info(status)
        self.notifier.ready(status)

    def stop(self, drain_seconds: float | None = None) -> DrainReport | None:
        """Finish the work in progress and save state; with ``drain_seconds``, drain first
        (module docstring)."""
        if self.stopping.is_set():
            return None
        log.info("stopping: finishing the image and upload in progress")
        self.notifier.stopping()
        self.stopping.set()
        self.agent.sources_ready.set()  # the scan thread exits now, not after its interval
        self._scheduler.shutdown(wait=True)
        deadline = time.monotonic() + self.agent.site.service.stop_timeout_seconds
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("thread %s did not finish within the stop timeout; its work is "
                            "resumed at the next start", t.name)
        report = None
        if drain_seconds is not None:
            report = drain(self.agent, drain_seconds)
        if self._metrics is not None:
            self._metrics.stop()
        self.agent.close()
        log.info("stopped")
        return report

    def healthy(self) -> bool:
        """Every thread alive and the analysis loop turned recently."""
        alive = all(t.is_alive() for t in self._threads)
        return alive and time.monotonic() - self._worker_beat < 120

    # -- internals -------------------------------------------------------------------------
    def _analyse(self) -> None:
        while not self.stopping.is_set():
            self._worker_beat = time.monotonic()
            try:
                self.agent.process_next(timeout=0.5)
            except Exception:
                log.exception("analysis step failed unexpectedly; the agent carries on")
                time.sleep(1.0)

    def _scan(self, interval: float) -> None:
        """Scan the sources every ``interval`` seconds, or at once when inotify says a file
        is complete (so a new image does not wait for the next scan)."""
        a = self.agent
        while not self.stopping.is_set():
            try:
                a.poll_sources()
            except Exception:
                log.exception("scanning the image sources failed; retrying in %.0f s", interval)
            a.sources_ready.wait(interval)
            a.sources_ready.clear()  # a file finished during the next scan wakes the one after

    def _watchdog(self) -> None:
        if self.healthy():
            self.notifier.watchdog()
        else:
            log.error("not pinging the systemd watchdog: a worker thread is stuck or dead; "
                      "systemd will restart the agent")

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _job(self, func: Callable[[], Any], seconds: float, name: str) -> None:
        def run() -> None:
            try:
                func()
            except Exception:
                log.exception("%s failed; it runs again in %.0f s", name, seconds)

        self._scheduler.add_job(run, "interval", seconds=seconds, name=name)

    def _sources(self) -> MetricSources:
        a = self.agent
        return MetricSources(
            agent_version=__version__,
            stats=a.stats.snapshot,
            system=a.system.read,
            outbox=lambda: a.outbox.stats(now=a.clock()),
            uplink=lambda: a.uploader.status(a.clock()),
            alerts_active=lambda: len(a.active_alerts),
            alerts_enabled=lambda: a.site.alerts.enabled,
            model_version=lambda: a.model.version,
            sinks=lambda: {k: SinkStatus(up=not v.get("failing"), queued=int(v.get("pending", 0)))
                           for k, v in a.dispatcher.status().items()},
        )


def run_service(site: SiteConfig, config_path: Path, *, drain_only: bool = False,
                drain_seconds: float = 600.0) -> int:
    """Build the agent, run until SIGTERM/SIGINT (or SIGUSR1: drain first), stop cleanly.
    SIGHUP reloads the config file: checked first (``check-config``'s checks); a bad file
    is refused in the log and the running config kept. With ``drain_only``: start, drain,
    stop. Returns the exit code (1: a drain left something behind)."""
    if drain_only:
        agent = Agent(site, base_dir=config_path.resolve().parent)
        try:
            drained = drain(agent, drain_seconds)
        finally:
            agent.close()
        print(drained.text(), file=sys.stderr)
        return 0 if drained.safe_to_power_off else 1
    wake = threading.Event()
    asked: dict[str, bool] = {"stop": False, "drain": False, "reload": False}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if asked["stop"]:
            log.warning("second stop signal: exiting now (state on disk is crash-safe)")
            sys.exit(1)
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            log.info("SIGHUP received: reloading %s", config_path)
            asked["reload"] = True
        else:
            log.info("%s received%s", name,
                     ": draining, then stopping" if signum == signal.SIGUSR1 else "")
            asked["drain"] = signum == signal.SIGUSR1
            asked["stop"] = True
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP):
        signal.signal(sig, on_signal)
    service = Service(Agent(site, base_dir=config_path.resolve().parent))
    service.start()
    report: DrainReport | None = None
    try:
        while not asked["stop"]:
            wake.wait(1.0)
            wake.clear()
            if asked["reload"] and not asked["stop"]:
                asked["reload"] = False
                new = reloaded(config_path)
                if new is not None:
                    service.stop()
                    service = Service(Agent(new, base_dir=config_path.resolve().parent))
                    service.start()
                    log.info("config reloaded from %s", config_path)
    finally:
        report = service.stop(drain_seconds if asked["drain"] else None)
    return 0 if report is None or report.safe_to_power_off else 1


def reloaded(config_path: Path) -> SiteConfig | None:
    """The config file checked as ``check-config`` checks it, or None (each problem logged,
    the running config kept)."""
    from fieldagent.config.preflight import preflight
    from fieldagent.config.site import load_site_config
    from fieldagent.errors import ConfigError

    try:
        site = load_site_config(config_path)
        problems = preflight(site, config_path)
    except ConfigError as exc:
        problems = exc.problems
    for line in problems:
        log.error("config reload refused, the running config is kept: %s", line)
    return None if problems else site
