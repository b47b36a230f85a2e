"""The ``telemetry`` section of the site config: heartbeat, metrics endpoint, self-alerts.

The metrics endpoint listens on loopback by default. Binding it to another address
(``0.0.0.0``, the LAN address) exposes the agent's figures to the network without
authentication or TLS: that is the fleet admin's decision, to be made together with a
firewall rule, never a default.

Port: the Prometheus project's list of default exporter ports (9100-9999) is fully
allocated, so every port there belongs to some exporter. 9464, the usual pick, is the
OpenTelemetry SDK's Prometheus exporter, which is likely to run on the same device as the
agent one day; fieldagent therefore defaults to 9469. When it is taken, the agent refuses
to start the endpoint with an error that names the port and this key.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from fieldagent.config.base import Section

DEFAULT_METRICS_PORT = 9469


class MetricsConfig(Section):
    """The Prometheus ``/metrics`` and ``/healthz`` endpoint."""

    enabled: bool = Field(True, description="serve /metrics and /healthz over HTTP")
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=255,
        description="address to listen on; anything beyond loopback exposes the figures "
        "without authentication: the admin's choice, with a firewall rule",
    )
    port: int = Field(
        DEFAULT_METRICS_PORT, ge=1024, le=65_535, description="TCP port to listen on"
    )
    healthz_max_age_seconds: float = Field(
        120.0,
        ge=5.0,
        le=86_400.0,
        description="/healthz answers 503 when the agent loop has not ticked for this long",
    )


class SelfAlertsConfig(Section):
    """Alerts about the agent itself: slow inference, model drift, full disk, hot CPU.

    Each alert raises once and resolves once; the ``*_clear*`` keys give the hysteresis
    that keeps a figure hovering at its threshold from raising again and again.
    """

    enabled: bool = Field(True, description="raise alerts about the agent's own health")
    latency_spike_factor: float = Field(
        2.0,
        ge=1.2,
        le=50.0,
        description="raise when the recent p95 model latency exceeds the baseline p95 "
        "by this factor (thermal throttling, a competing process)",
    )
    latency_clear_factor: float = Field(
        1.5,
        ge=1.0,
        le=50.0,
        description="resolve the latency alert when the ratio falls below this",
    )
    drift_threshold: float = Field(
        0.25,
        ge=0.01,
        le=10.0,
        description="raise when the confidence drift (population stability index) "
        "reaches this; 0.25 is the customary 'significant shift'",
    )
    drift_clear: float = Field(
        0.10,
        ge=0.0,
        le=10.0,
        description="resolve the drift alert when the index falls below this",
    )
    disk_free_min_fraction: float = Field(
        0.10,
        ge=0.0,
        le=0.9,
        description="raise when less than this fraction of the data disk is free",
    )
    disk_free_min_bytes: int = Field(
        1 << 30,
        ge=0,
        le=1 << 44,
        description="raise when fewer bytes than this are free on the data disk",
    )
    disk_clear_factor: float = Field(
        1.2,
        ge=1.0,
        le=5.0,
        description="resolve the disk alert when free space is this many times both minimums",
    )
    cpu_temp_warn_c: float = Field(
        80.0,
        ge=40.0,
        le=125.0,
        description="CPU temperature (deg C) that raises an alert and points at throttling",
    )
    cpu_temp_clear_margin_c: float = Field(
        5.0,
        ge=0.5,
        le=30.0,
        description="resolve the temperature alert this many degrees below the warning",
    )

    @model_validator(mode="after")
    def _clear_below_raise(self) -> SelfAlertsConfig:
        if self.latency_clear_factor >= self.latency_spike_factor:
            raise ValueError(
                f"latency_clear_factor ({self.latency_clear_factor}) must be below "
                f"latency_spike_factor ({self.latency_spike_factor}), or the alert "
                "resolves the moment it is raised"
            )
        if self.drift_clear >= self.drift_threshold:
            raise ValueError(
                f"drift_clear ({self.drift_clear}) must be below drift_threshold "
                f"({self.drift_threshold}), or the alert resolves the moment it is raised"
            )
        return self


class TelemetryConfig(Section):
    """What the agent reports about itself: heartbeat, Prometheus metrics, self-alerts."""

    heartbeat_interval_seconds: float = Field(
        600.0,
        ge=30.0,
        le=86_400.0,
        description="how often a heartbeat goes into the outbox",
    )
    latency_window: int = Field(
        120,
        ge=10,
        le=10_000,
        description="recent model runs behind the p50/p95 latency",
    )
    latency_baseline_runs: int = Field(
        30,
        ge=5,
        le=10_000,
        description="the first this many model runs after start (or a model switch) are "
        "the latency baseline; no latency alert before they ran",
    )
    drift_window: int = Field(
        300,
        ge=50,
        le=100_000,
        description="model outputs in the drift reference (the first after start or a "
        "model switch) and in the recent window compared with it",
    )
    drift_bins: int = Field(
        10,
        ge=2,
        le=50,
        description="bins of the confidence histograms behind the drift index",
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig, description="the Prometheus endpoint"
    )
    self_alerts: SelfAlertsConfig = Field(
        default_factory=SelfAlertsConfig, description="alerts about the agent's own health"
    )
