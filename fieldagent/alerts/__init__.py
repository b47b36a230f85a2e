"""Grower alerts decided on the device: rules over signals and quality flags."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldagent.alerts.config import AlertRule, AlertsConfig, Condition
    from fieldagent.alerts.rules import CAMERA_LEVEL, Alert, AlertEngine, Observation

_LAZY = {
    "AlertRule": "config", "AlertsConfig": "config", "Condition": "config", "CAMERA_LEVEL":
    "rules", "Alert": "rules", "AlertEngine": "rules", "Observation": "rules",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so that importing ``fieldagent.alerts.config`` (as the site
    config does) loads no image code: ``fieldagent status`` and ``--help`` stay fast."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"fieldagent.alerts.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fieldagent.alerts' has no attribute {name!r}")


__all__ = [
    "CAMERA_LEVEL",
    "Alert",
    "AlertEngine",
    "AlertRule",
    "AlertsConfig",
    "Condition",
    "Observation",
]
