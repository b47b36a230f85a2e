"""Grower alerts decided on the device: rules over signals and quality flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

if TYPE_CHECKING:
    from fieldagent.alerts.config import AlertRule, AlertsConfig, Condition
    from fieldagent.alerts.rules import CAMERA_LEVEL, Alert, AlertEngine, Observation

_LAZY = {
    "AlertRule": "config", "AlertsConfig": "config", "Condition": "config", "CAMERA_LEVEL":
    "rules", "Alert": "rules", "AlertEngine": "rules", "Observation": "rules",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "CAMERA_LEVEL",
    "Alert",
    "AlertEngine",
    "AlertRule",
    "AlertsConfig",
    "Condition",
    "Observation",
]
