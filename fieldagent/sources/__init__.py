"""Where frames come from: inbox folders and HTTP snapshots, and the queue to the analysis.

The service builds one source per camera and runs the same loop for both kinds::

    for item in source.poll():               # InboxWatcher or SnapshotPoller
        shed = queue.put(item)
        if shed is not None:                 # the queue was full: dispose of the shed file
            sources[shed.camera].finish(shed.path, "shed")
    ...
    item = queue.get(timeout=1.0)
    result = pipeline.process(item.path, captured_at=item.captured_at)
    if result.status == "ok":
        sources[item.camera].finish(item.path)
    else:
        sources[item.camera].quarantine(item.path, result.reason, result.message)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

if TYPE_CHECKING:
    from fieldagent.sources.clock import Clock, system_clock
    from fieldagent.sources.config import SourcesConfig
    from fieldagent.sources.errors import CameraUnreachable, InboxUnavailable, SourceError
    from fieldagent.sources.http import PollHealth, SnapshotPoller, redact
    from fieldagent.sources.inbox import InboxWatcher
    from fieldagent.sources.quarantine import Quarantine
    from fieldagent.sources.queue import FrameQueue, WorkItem

_LAZY = {
    "Clock": "clock", "system_clock": "clock", "SourcesConfig": "config",
    "CameraUnreachable": "errors", "InboxUnavailable": "errors", "SourceError": "errors",
    "PollHealth": "http", "SnapshotPoller": "http", "redact": "http", "InboxWatcher":
    "inbox", "Quarantine": "quarantine", "FrameQueue": "queue", "WorkItem": "queue",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "CameraUnreachable",
    "Clock",
    "FrameQueue",
    "InboxUnavailable",
    "InboxWatcher",
    "PollHealth",
    "Quarantine",
    "SnapshotPoller",
    "SourceError",
    "SourcesConfig",
    "WorkItem",
    "redact",
    "system_clock",
]
