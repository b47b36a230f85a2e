"""Plant signals: colour indices, the signal table, and each zone's rolling baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

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


__getattr__ = lazy_attributes(__name__, _LAZY)


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
