"""The Prometheus endpoint: ``/metrics`` read at scrape time, and ``/healthz``.

The collector owns no numbers. At every scrape it calls the same sources the heartbeat
reads (``AgentStats.snapshot``, the outbox's ``stats``, the uploader's ``status``, the
system probe ...), so a dashboard and a heartbeat can never disagree. It lives in its own
``CollectorRegistry``: the global registry would also export whatever a library registers
there, and two agents in one test process would collide.

A source that fails is logged and skipped, and ``fieldagent_telemetry_source_up{source}``
says so, so a broken outbox does not take the whole scrape down with it.

Metrics (all prefixed ``fieldagent_``; time in seconds, sizes in bytes)::

    build_info{version}, model_info{version}         info, value 1
    start_time_seconds                               when the agent started (Unix time)
    images_processed_total{camera,status}            images handled (ok, rejected)
    images_rejected_total{reason}                    rejected images by reason
    camera_last_image_timestamp_seconds{camera}      last image per camera (Unix time)
    quality_checked_total                            analysed images
    quality_flags_total{flag}                        analysed images that raised each flag
    inference_latency_seconds{quantile}              summary: p50/p95 of the recent window,
                                                     _count/_sum since start
    inference_latency_baseline_p95_seconds           p95 of the baseline runs
    model_outputs_total                              model outputs (one per zone)
    model_confidence_drift_psi                       drift index (stats module docstring)
    model_confidence_mean{window}, model_entropy_mean{window}   reference / recent
    outbox_items{kind,state}, outbox_bytes{kind,state}          ready, leased, done
    outbox_oldest_age_seconds, outbox_disk_bytes
    outbox_dropped_total{reason}, outbox_last_success_timestamp_seconds
    uplink_link_up                                   1 when the circuit breaker is closed
    uplink_rate_bytes_per_second, uplink_degrade_level
    disk_total_bytes, disk_free_bytes, cpu_temperature_celsius, load_average{period}
    resident_memory_bytes, system_uptime_seconds
    alerts_active                                    raised alerts (grower + self-alerts)
    alert_sink_up{sink}, alert_sink_queued{sink}
    telemetry_source_up{source}                      1 when that source answered this scrape
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from fieldagent.errors import FieldAgentError
from fieldagent.outbox.model import OutboxStats
from fieldagent.telemetry.stats import StatsSnapshot
from fieldagent.telemetry.system import SystemSnapshot

log = logging.getLogger(__name__)
P = "fieldagent_"
QUANTILES = (("0.5", "p50_ms"), ("0.95", "p95_ms"))


class TelemetryError(FieldAgentError):
    """The metrics endpoint cannot start (port taken, address not on this device)."""


@dataclass(frozen=True)
class SinkStatus:
    """One alert sink (webhook, e-mail ...) as the endpoint shows it."""

    up: bool
    queued: int = 0


@dataclass(frozen=True)
class MetricSources:
    """Where the collector reads its figures at scrape time; None = not running here."""

    agent_version: str
    stats: Callable[[], StatsSnapshot]
    system: Callable[[], SystemSnapshot] | None = None
    outbox: Callable[[], OutboxStats] | None = None
    uplink: Callable[[], Mapping[str, Any]] | None = None
    alerts_active: Callable[[], int] | None = None
    alerts_enabled: Callable[[], bool] | None = None
    model_version: Callable[[], str | None] | None = None
    sinks: Callable[[], Mapping[str, SinkStatus]] | None = None


class FieldAgentCollector(Collector):
    """Reads ``MetricSources`` at every scrape (module docstring)."""

    def __init__(self, sources: MetricSources) -> None:
        self._s = sources

    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily(P + "build", "fieldagent version", value={
            "version": self._s.agent_version})
        groups: list[tuple[str, Callable[[], Any] | None, Callable[[Any], Iterable[Metric]]]] = [
            ("stats", self._s.stats, _stats_metrics),
            ("model", self._s.model_version, _model_info),
            ("system", self._s.system, _system_metrics),
            ("outbox", self._s.outbox, _outbox_metrics),
            ("uplink", self._s.uplink, _uplink_metrics),
            ("alerts", self._s.alerts_active, _alert_metrics),
            ("alert_rules", self._s.alerts_enabled, _alerts_enabled_metric),
            ("sinks", self._s.sinks, _sink_metrics),
        ]
        up = GaugeMetricFamily(P + "telemetry_source_up",
                               "1 when the source answered this scrape", labels=["source"])
        for name, source, render in groups:
            if source is None:
                continue
            try:
                metrics = list(render(source()))
            except Exception:  # one broken source must not take the scrape down
                log.warning("telemetry source %s failed during a scrape", name, exc_info=True)
                up.add_metric([name], 0.0)
                continue
            up.add_metric([name], 1.0)
            yield from metrics
        yield up


def _stats_metrics(s: StatsSnapshot) -> Iterator[Metric]:
    yield _gauge("start_time_seconds", "when the agent started (Unix time)",
                 s.started_at.timestamp())
    images = CounterMetricFamily(P + "images_processed", "images handled by camera and status",
                                 labels=["camera", "status"])
    for camera, by_status in s.images_total.items():
        for status, n in by_status.items():
            images.add_metric([camera, status], n)
    yield images
    yield _labelled(CounterMetricFamily, "images_rejected", "rejected images by reason",
                    "reason", s.rejected_total)
    yield _labelled(GaugeMetricFamily, "camera_last_image_timestamp_seconds",
                    "when each camera's last image was handled (Unix time)", "camera",
                    {c: t.timestamp() for c, t in s.last_image_at.items()})
    yield CounterMetricFamily(P + "quality_checked", "analysed images (status ok)",
                              value=s.quality_checked_total)
    yield _labelled(CounterMetricFamily, "quality_flags", "analysed images that raised a flag",
                    "flag", s.quality_flags_total)
    yield from _latency_metrics(s)
    yield from _drift_metrics(s)


def _latency_metrics(s: StatsSnapshot) -> Iterator[Metric]:
    lat = s.latency
    name = P + "inference_latency_seconds"
    summary = Metric(name, "model stage time per image: quantiles over the recent window",
                     "summary")
    for quantile, attr in QUANTILES:
        value = getattr(lat, attr)
        if value is not None:
            summary.add_sample(name, {"quantile": quantile}, value / 1000.0)
    summary.add_sample(name + "_count", {}, float(lat.count))
    summary.add_sample(name + "_sum", {}, lat.sum_ms / 1000.0)
    yield summary
    if lat.baseline_p95_ms is not None:
        yield _gauge("inference_latency_baseline_p95_seconds",
                     "p95 model latency of the first runs after start or a model switch",
                     lat.baseline_p95_ms / 1000.0)


def _drift_metrics(s: StatsSnapshot) -> Iterator[Metric]:
    d = s.drift
    yield CounterMetricFamily(P + "model_outputs", "model outputs (one per zone)",
                              value=s.model_outputs_total)
    if d.psi is not None:
        yield _gauge("model_confidence_drift_psi",
                     "population stability index of recent vs reference confidence", d.psi)
    for metric, doc, ref, cur in (
        ("model_confidence_mean", "mean top-class probability",
         d.confidence_mean_reference, d.confidence_mean_recent),
        ("model_entropy_mean", "mean normalised entropy", d.entropy_mean_reference,
         d.entropy_mean_recent),
    ):
        values = {k: v for k, v in (("reference", ref), ("recent", cur)) if v is not None}
        yield _labelled(GaugeMetricFamily, metric, doc, "window", values)


def _model_info(version: str | None) -> Iterator[Metric]:
    if version is not None:
        yield InfoMetricFamily(P + "model", "the loaded stress model", value={"version": version})


def _system_metrics(s: SystemSnapshot) -> Iterator[Metric]:
    for name, doc, value in (
        ("disk_total_bytes", "size of the data disk", s.disk_total_bytes),
        ("disk_free_bytes", "free bytes on the data disk", s.disk_free_bytes),
        ("cpu_temperature_celsius", "CPU temperature", s.cpu_temp_c),
        ("resident_memory_bytes", "resident memory of the agent process", s.rss_bytes),
        ("system_uptime_seconds", "seconds since the device booted", s.system_uptime_s),
    ):
        if value is not None:
            yield _gauge(name, doc, float(value))
    loads = {"1m": s.load_1m, "5m": s.load_5m, "15m": s.load_15m}
    yield _labelled(GaugeMetricFamily, "load_average", "system load average", "period",
                    {k: v for k, v in loads.items() if v is not None})


def _outbox_metrics(o: OutboxStats) -> Iterator[Metric]:
    for what in ("items", "bytes"):
        family = GaugeMetricFamily(P + f"outbox_{what}", f"outbox {what} by kind and state",
                                   labels=["kind", "state"])
        for kind, states in o.by_kind_state.items():
            for state, figures in states.items():
                family.add_metric([kind, state], figures.get(what, 0))
        yield family
    if o.oldest_ready_age_s is not None:
        yield _gauge("outbox_oldest_age_seconds", "age of the oldest undelivered item",
                     o.oldest_ready_age_s)
    if o.disk_bytes is not None:
        yield _gauge("outbox_disk_bytes", "disk used by the outbox", float(o.disk_bytes))
    yield _labelled(CounterMetricFamily, "outbox_dropped", "items dropped without delivery",
                    "reason", o.drops)
    if o.last_success_at is not None:
        yield _gauge("outbox_last_success_timestamp_seconds", "last delivery (Unix time)",
                     o.last_success_at.timestamp())


def _uplink_metrics(u: Mapping[str, Any]) -> Iterator[Metric]:
    state = (u.get("link") or {}).get("state")
    if state is not None:
        yield _gauge("uplink_link_up", "1 when the link is up (circuit breaker closed)",
                     1.0 if state == "closed" else 0.0)
    if u.get("rate_bytes_per_s") is not None:
        yield _gauge("uplink_rate_bytes_per_second", "measured upload rate",
                     float(u["rate_bytes_per_s"]))
    level = (u.get("degrade") or {}).get("level")
    if level is not None:
        yield _gauge("uplink_degrade_level", "image offload degrade level (0 = full)",
                     float(level))


def _alert_metrics(active: int) -> Iterator[Metric]:
    yield _gauge("alerts_active", "alerts currently raised", float(active))


def _alerts_enabled_metric(enabled: bool) -> Iterator[Metric]:
    yield _gauge("alerts_enabled", "0 when the site config turned every alert off "
                 "(alerts.enabled: false)", float(enabled))


def _sink_metrics(sinks: Mapping[str, SinkStatus]) -> Iterator[Metric]:
    yield _labelled(GaugeMetricFamily, "alert_sink_up", "1 when the sink delivers", "sink",
                    {name: 1.0 if s.up else 0.0 for name, s in sinks.items()})
    yield _labelled(GaugeMetricFamily, "alert_sink_queued", "alerts waiting for the sink",
                    "sink", {name: float(s.queued) for name, s in sinks.items()})


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(P + name, doc, value=value)


def _labelled(
    family: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    doc: str,
    label: str,
    values: Mapping[str, float],
) -> Metric:
    metric = family(P + name, doc, labels=[label])
    for key, value in values.items():
        metric.add_metric([key], float(value))
    return metric


def build_registry(collector: Collector) -> CollectorRegistry:
    """A registry of its own holding only ``collector`` (module docstring)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


class _QuietHandler(WSGIRequestHandler):
    """Scrapes every few seconds would flood the agent's log."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class MetricsServer:
    """``/metrics`` and ``/healthz`` over HTTP, served from a daemon thread.

    ``healthy`` says whether the agent loop ticked recently (``health.Liveness``);
    ``/healthz`` answers 200 with ``{"status": "ok"}`` or 503 with the reason. ``port=0``
    takes a free port (tests); ``.port`` is the real one once started. ``stop()`` returns
    within ``poll_interval`` seconds, the server loop's wake-up period.
    """

    def __init__(
        self,
        host: str,
        port: int,
        collector: Collector,
        healthy: Callable[[], bool],
        *,
        poll_interval: float = 0.5,
    ) -> None:
        self.host, self._port, self._healthy = host, port, healthy
        self._poll_interval = poll_interval
        self._metrics_app = make_wsgi_app(build_registry(collector))
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Listen and serve in a daemon thread; a taken port raises ``TelemetryError``."""
        if self._server is not None:
            return
        try:
            self._server = make_server(self.host, self._port, self._app,
                                       server_class=ThreadingWSGIServer,
                                       handler_class=_QuietHandler)
        except OSError as exc:
            raise TelemetryError(
                f"the metrics endpoint cannot listen on {self.host}:{self._port} ({exc}). "
                "Another program may use that port: choose a free one under "
                "telemetry.metrics.port, or set telemetry.metrics.enabled: false"
            ) from exc
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        args=(self._poll_interval,),
                                        name="metrics-http", daemon=True)
        self._thread.start()
        log.info("metrics endpoint listening on %s/metrics", self.url)

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5.0)
        self._server = self._thread = None

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = self._metrics_app(environ, start_response)
            return body
        if path == "/healthz":
            return self._healthz(start_response)
        return _reply(start_response, "404 Not Found", {
            "status": "not_found", "message": "this endpoint serves /metrics and /healthz"})

    def _healthz(self, start_response: Callable[..., Any]) -> list[bytes]:
        try:
            ok = bool(self._healthy())
        except Exception as exc:  # a failing check is an unhealthy agent, not a 500
            log.warning("the health check failed", exc_info=True)
            return _reply(start_response, "503 Service Unavailable", {
                "status": "unhealthy", "message": f"the health check failed: {exc}"})
        if ok:
            return _reply(start_response, "200 OK", {"status": "ok"})
        return _reply(start_response, "503 Service Unavailable", {
            "status": "unhealthy",
            "message": "the agent loop has not ticked recently; see the agent's log"})


def _reply(start_response: Callable[..., Any], status: str, body: Mapping[str, str]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]
