"""Grower alerts decided on the device: rules over signals and quality flags."""

from fieldagent.alerts.config import AlertRule, AlertsConfig, Condition
from fieldagent.alerts.rules import CAMERA_LEVEL, Alert, AlertEngine, Observation

__all__ = [
    "CAMERA_LEVEL",
    "Alert",
    "AlertEngine",
    "AlertRule",
    "AlertsConfig",
    "Condition",
    "Observation",
]
