"""Plant signals: colour indices, the signal table, and each zone's rolling baseline."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldagent.signals.baseline import ZoneHistory, ZoneUpdate
    from fieldagent.signals.compute import compute_signals
    from fieldagent.signals.config import HueBins, SignalsConfig
    from fieldagent.signals.table import SIGNALS, SignalSpec, signal_names

_LAZY = {
    "ZoneHistory": "baseline", "ZoneUpdate": "baseline", "compute_signals": "compute",
    "HueBins": "config", "SignalsConfig": "config", "SIGNALS": "table", "SignalSpec":
    "table", "signal_names": "table",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so that importing ``fieldagent.signals.config`` (as the site
    config does) loads no image code: ``fieldagent status`` and ``--help`` stay fast."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"fieldagent.signals.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fieldagent.signals' has no attribute {name!r}")


__all__ = [
    "SIGNALS",
    "HueBins",
    "SignalSpec",
    "SignalsConfig",
    "ZoneHistory",
    "ZoneUpdate",
    "compute_signals",
    "signal_names",
]
