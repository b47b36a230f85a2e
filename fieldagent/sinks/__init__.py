"""Alert delivery to the grower: webhook (JSON, Slack-style, ntfy) and e-mail sinks.

Alerts are decided on the device (``fieldagent.alerts``) and delivered from it, over the
LAN, so the grower hears about them while the internet is down. ``AlertDispatcher`` keeps
every delivery in a SQLite file until its sink accepted it, retries each sink on its own,
holds quiet alerts through quiet hours, and never sends an accepted alert twice.
"""


from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fieldagent.sinks.config import DeliveryConfig, EmailSink, SinkConfig, WebhookSink
from fieldagent.sinks.errors import SinkError, SinkRejected, SinkUnavailable

if TYPE_CHECKING:
    from fieldagent.sinks.dispatch import AlertDispatcher, DeliveryReport, SinkRound

_LAZY = {"AlertDispatcher", "DeliveryReport", "SinkRound"}


def __getattr__(name: str) -> Any:
    """The dispatcher is imported on first use: the alerts config imports this package's
    config, and the dispatcher imports the alerts package (no import cycle at start)."""
    if name in _LAZY:
        return getattr(importlib.import_module("fieldagent.sinks.dispatch"), name)
    raise AttributeError(f"module 'fieldagent.sinks' has no attribute {name!r}")

__all__ = [
    "AlertDispatcher",
    "DeliveryConfig",
    "DeliveryReport",
    "EmailSink",
    "SinkConfig",
    "SinkError",
    "SinkRejected",
    "SinkRound",
    "SinkUnavailable",
    "WebhookSink",
]
