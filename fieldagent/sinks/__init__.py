"""Alert delivery to the grower: webhook (JSON, Slack-style, ntfy) and e-mail sinks.

Alerts are decided on the device (``fieldagent.alerts``) and delivered from it, over the
LAN, so the grower hears about them while the internet is down. ``AlertDispatcher`` keeps
every delivery in a SQLite file until its sink accepted it, retries each sink on its own,
holds quiet alerts through quiet hours, and never sends an accepted alert twice.
"""


from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes
from fieldagent.sinks.config import DeliveryConfig, EmailSink, SinkConfig, WebhookSink
from fieldagent.sinks.errors import SinkError, SinkRejected, SinkUnavailable

if TYPE_CHECKING:
    from fieldagent.sinks.dispatch import AlertDispatcher, DeliveryReport, SinkRound

_LAZY = {name: "dispatch" for name in ("AlertDispatcher", "DeliveryReport", "SinkRound")}


__getattr__ = lazy_attributes(__name__, _LAZY)

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
