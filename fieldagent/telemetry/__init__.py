"""What the agent reports about itself: heartbeat, Prometheus metrics and self-alerts.

``AgentStats`` counts what the agent does, ``SystemProbe`` reads the device, and both feed
the heartbeat (``build_heartbeat``, into the outbox every interval), the Prometheus
endpoint (``MetricsServer``, read at scrape time) and ``SelfAlerts`` from the same
snapshots, so the three never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes
from fieldagent.telemetry.config import MetricsConfig, SelfAlertsConfig, TelemetryConfig

if TYPE_CHECKING:
    from fieldagent.telemetry.health import Liveness
    from fieldagent.telemetry.heartbeat import build_heartbeat
    from fieldagent.telemetry.prom import (
        FieldAgentCollector,
        MetricSources,
        MetricsServer,
        SinkStatus,
        TelemetryError,
    )
    from fieldagent.telemetry.selfalerts import SelfAlerts
    from fieldagent.telemetry.stats import AgentStats, StatsSnapshot, population_stability_index
    from fieldagent.telemetry.system import SystemProbe, SystemSnapshot, read_cpu_temperature

_LAZY = {
    "Liveness": "health", "build_heartbeat": "heartbeat",
    "FieldAgentCollector": "prom", "MetricSources": "prom", "MetricsServer": "prom",
    "SinkStatus": "prom", "TelemetryError": "prom", "SelfAlerts": "selfalerts",
    "AgentStats": "stats", "StatsSnapshot": "stats", "population_stability_index": "stats",
    "SystemProbe": "system", "SystemSnapshot": "system", "read_cpu_temperature": "system",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "AgentStats",
    "FieldAgentCollector",
    "Liveness",
    "MetricSources",
    "MetricsConfig",
    "MetricsServer",
    "SelfAlerts",
    "SelfAlertsConfig",
    "SinkStatus",
    "StatsSnapshot",
    "SystemProbe",
    "SystemSnapshot",
    "TelemetryConfig",
    "TelemetryError",
    "build_heartbeat",
    "population_stability_index",
    "read_cpu_temperature",
]
