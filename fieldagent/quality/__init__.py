"""Image quality checks: is this frame fit to measure plants on?

Pure metric functions live in :mod:`fieldagent.quality.metrics`; the
:class:`QualityChecker` holds one camera's baseline and moved-reference and
turns the metrics into flags (:class:`QualityReport`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldagent.quality.checker import QualityChecker
    from fieldagent.quality.config import QualityConfig
    from fieldagent.quality.report import QualityFlag, QualityReport

_LAZY = {
    "QualityChecker": "checker", "QualityConfig": "config", "QualityFlag": "report",
    "QualityReport": "report",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so that importing ``fieldagent.quality.config`` (as the site
    config does) loads no image code: ``fieldagent status`` and ``--help`` stay fast."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"fieldagent.quality.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fieldagent.quality' has no attribute {name!r}")


__all__ = ["QualityChecker", "QualityConfig", "QualityFlag", "QualityReport"]
