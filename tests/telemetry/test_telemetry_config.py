"""The telemetry config section: defaults, ranges, descriptions, cross-field checks."""

from __future__ import annotations

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError

from fieldagent.telemetry import MetricsConfig, SelfAlertsConfig, TelemetryConfig


def test_defaults_are_valid_and_safe() -> None:
    cfg = TelemetryConfig()
    assert cfg.heartbeat_interval_seconds == 600
    assert cfg.metrics.enabled and cfg.metrics.host == "127.0.0.1"  # loopback unless told
    assert 1024 <= cfg.metrics.port <= 65_535


@pytest.mark.parametrize("model", [TelemetryConfig, MetricsConfig, SelfAlertsConfig])
def test_every_field_is_described_and_numbers_are_bounded(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        if field.annotation in (int, float):
            kinds = {type(m) for m in field.metadata}
            assert kinds & {Ge, Gt} and kinds & {Le, Lt}, f"{model.__name__}.{name} unbounded"


def test_unknown_keys_and_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="heartbeat_interval"):
        TelemetryConfig.model_validate({"heartbeat_interval": 60})
    with pytest.raises(ValidationError, match="port"):
        TelemetryConfig.model_validate({"metrics": {"port": 80}})


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"latency_spike_factor": 1.5, "latency_clear_factor": 1.5}, "latency_clear_factor"),
        ({"drift_threshold": 0.2, "drift_clear": 0.3}, "drift_clear"),
    ],
)
def test_clear_thresholds_must_sit_below_raise_thresholds(
    values: dict[str, float], words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        SelfAlertsConfig.model_validate(values)
