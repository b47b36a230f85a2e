"""The Prometheus endpoint, scraped over real HTTP on 127.0.0.1 and parsed as Prometheus does."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from fieldagent.outbox import NewItem
from fieldagent.policy.loader import validate_policy
from fieldagent.telemetry import (
    AgentStats,
    FieldAgentCollector,
    Liveness,
    MetricSources,
    MetricsServer,
    SinkStatus,
    SystemProbe,
    TelemetryError,
)
from tests.support.uplink import MakeRig, UplinkRig
from tests.telemetry.helpers import T0, ok_image, rejected_image

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(server: MetricsServer) -> Samples:
    status, text = get(server.url + "/metrics")
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


class Agent:
    """The real parts a collector reads: stats, a SQLite outbox, an uploader, the system."""

    def __init__(self, rig: UplinkRig, tmp_path: Path) -> None:
        self.clock, self.box = rig.clock, rig.box
        self.stats = AgentStats(self.clock, latency_window=20)
        self.uploader = rig.uploader(rig.folder("bucket"))
        thermal = tmp_path / "thermal" / "thermal_zone0"
        thermal.mkdir(parents=True)
        (thermal / "type").write_text("cpu-thermal\n")
        (thermal / "temp").write_text("71500\n")
        self.system = SystemProbe(tmp_path, clock=self.clock, sensors=None,
                                  thermal_dir=tmp_path / "thermal",
                                  disk_usage=lambda _p: (1000, 700, 300))
        self.alerts = 3

    def sources(self, **overrides: Any) -> MetricSources:
        base: dict[str, Any] = dict(
            agent_version="0.1.0",
            stats=self.stats.snapshot,
            system=self.system.read,
            outbox=lambda: self.box.stats(now=self.clock()),
            uplink=lambda: self.uploader.status(self.clock()),
            alerts_active=lambda: self.alerts,
            model_version=lambda: "m1",
            sinks=lambda: {"webhook": SinkStatus(up=True), "email": SinkStatus(False, 2)},
        )
        base.update(overrides)
        return MetricSources(**base)


def serve(
    agent: Agent,
    healthy: Callable[[], bool] = lambda: True,
    collector: FieldAgentCollector | None = None,
) -> MetricsServer:
    """A server on a free loopback port that stops quickly (tests start dozens)."""
    return MetricsServer("127.0.0.1", 0, collector or FieldAgentCollector(agent.sources()),
                         healthy, poll_interval=0.02)


@pytest.fixture
def agent(make_rig: MakeRig, tmp_path: Path) -> Agent:
    policy = validate_policy({"link": {"total_max_bytes": "1GB"}}, "test")
    return Agent(make_rig(policy, start=T0), tmp_path)


def test_scrape_shows_what_the_sources_hold(agent: Agent) -> None:
    for i in range(30):
        agent.stats.observe_image(ok_image("cam-1", latency_ms=5.0 + i, flags=("fog",) * (i < 4)))
    agent.stats.observe_image(rejected_image("cam-2", "corrupt"))
    agent.box.put(NewItem("image", "raw/image/a.jpg", 4, T0, data=b"x" * 4096), now=T0)
    agent.clock.advance(90)
    snap = agent.stats.snapshot()
    assert snap.latency.p50_ms is not None and snap.latency.p95_ms is not None
    with serve(agent) as srv:
        s = scrape(srv)
    assert value(s, "fieldagent_images_processed_total", camera="cam-1", status="ok") == 30
    assert value(s, "fieldagent_images_processed_total", camera="cam-2", status="rejected") == 1
    assert value(s, "fieldagent_images_rejected_total", reason="corrupt") == 1
    assert value(s, "fieldagent_quality_flags_total", flag="fog") == 4
    assert value(s, "fieldagent_quality_checked_total") == snap.quality_checked_total
    p95 = value(s, "fieldagent_inference_latency_seconds", quantile="0.95")
    assert p95 == pytest.approx(snap.latency.p95_ms / 1000)
    assert value(s, "fieldagent_inference_latency_seconds", quantile="0.5") == pytest.approx(
        snap.latency.p50_ms / 1000)
    assert value(s, "fieldagent_inference_latency_seconds_count") == snap.latency.count
    assert value(s, "fieldagent_inference_latency_seconds_sum") == pytest.approx(
        snap.latency.sum_ms / 1000)
    assert value(s, "fieldagent_model_outputs_total") == snap.model_outputs_total
    assert value(s, "fieldagent_outbox_items", kind="image", state="ready") == 1
    assert value(s, "fieldagent_outbox_bytes", kind="image", state="ready") == 4096
    assert value(s, "fieldagent_outbox_oldest_age_seconds") == 90
    assert value(s, "fieldagent_uplink_link_up") == 1
    assert value(s, "fieldagent_disk_free_bytes") == 300
    assert value(s, "fieldagent_cpu_temperature_celsius") == 71.5
    assert value(s, "fieldagent_alerts_active") == 3
    assert value(s, "fieldagent_model_info", version="m1") == 1
    assert value(s, "fieldagent_build_info", version="0.1.0") == 1
    assert value(s, "fieldagent_alert_sink_up", sink="email") == 0
    assert value(s, "fieldagent_alert_sink_queued", sink="email") == 2
    assert value(s, "fieldagent_start_time_seconds") == T0.timestamp()
    assert value(s, "fieldagent_camera_last_image_timestamp_seconds", camera="cam-1") == (
        T0.timestamp())
    assert value(s, "fieldagent_resident_memory_bytes") > 0
    for source in ("stats", "model", "system", "outbox", "uplink", "alerts", "sinks"):
        assert value(s, "fieldagent_telemetry_source_up", source=source) == 1


def test_figures_are_read_at_scrape_time(agent: Agent) -> None:
    with serve(agent) as srv:
        before = scrape(srv)
        agent.stats.observe_image(ok_image("cam-1"))
        agent.alerts = 0
        after = scrape(srv)
    key = ("fieldagent_images_processed_total", frozenset({("camera", "cam-1"), ("status", "ok")}))
    assert key not in before and after[key] == 1
    assert value(after, "fieldagent_alerts_active") == 0


def test_a_failing_source_is_reported_and_the_rest_is_served(agent: Agent) -> None:
    def broken() -> Any:
        raise RuntimeError("outbox database is locked")

    collector = FieldAgentCollector(agent.sources(outbox=broken, uplink=None))
    with serve(agent, collector=collector) as srv:
        s = scrape(srv)
    assert value(s, "fieldagent_telemetry_source_up", source="outbox") == 0
    assert value(s, "fieldagent_telemetry_source_up", source="stats") == 1
    assert not any(name.startswith("fieldagent_outbox_") for name, _ in s)
    assert ("fieldagent_telemetry_source_up", frozenset({("source", "uplink")})) not in s


def test_own_registry_leaves_the_global_one_alone(agent: Agent) -> None:
    with serve(agent) as srv:
        scrape(srv)
    assert REGISTRY.get_sample_value("fieldagent_alerts_active") is None


def test_healthz_follows_the_agent_loop(agent: Agent) -> None:
    with pytest.raises(ValueError, match="max_age_s"):
        Liveness(agent.clock, max_age_s=0)
    live = Liveness(agent.clock, max_age_s=120)
    with serve(agent, live) as srv:
        status, body = get(srv.url + "/healthz")
        assert status == 503 and json.loads(body)["status"] == "unhealthy"  # never ticked
        live.tick()
        status, body = get(srv.url + "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        agent.clock.advance(121)
        status, body = get(srv.url + "/healthz")
        assert status == 503 and "not ticked" in json.loads(body)["message"]
        assert get(srv.url + "/nothing-here")[0] == 404


def test_a_failing_health_check_is_503_not_a_crash(agent: Agent) -> None:
    def broken() -> bool:
        raise RuntimeError("loop state unreadable")

    with serve(agent, broken) as srv:
        status, body = get(srv.url + "/healthz")
    assert status == 503 and "loop state unreadable" in json.loads(body)["message"]


def test_a_taken_port_is_refused_with_a_useful_error(agent: Agent) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer("127.0.0.1", port, FieldAgentCollector(agent.sources()),
                               lambda: True)
        with pytest.raises(TelemetryError, match=rf"127\.0\.0\.1:{port}.*telemetry\.metrics"):
            server.start()


def test_stop_frees_the_port(agent: Agent) -> None:
    server = serve(agent)
    server.start()
    port = server.port
    assert port != 0
    server.stop()
    server.stop()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
