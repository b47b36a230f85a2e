"""Plant signals: colour indices, the signal table, and each zone's rolling baseline."""

from fieldagent.signals.baseline import ZoneHistory, ZoneUpdate
from fieldagent.signals.compute import compute_signals
from fieldagent.signals.config import HueBins, SignalsConfig
from fieldagent.signals.table import SIGNALS, SignalSpec, signal_names

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
