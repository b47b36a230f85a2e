"""Image quality checks: is this frame fit to measure plants on?

Pure metric functions live in :mod:`fieldagent.quality.metrics`; the
:class:`QualityChecker` holds one camera's baseline and moved-reference and
turns the metrics into flags (:class:`QualityReport`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

if TYPE_CHECKING:
    from fieldagent.quality.checker import QualityChecker
    from fieldagent.quality.config import QualityConfig
    from fieldagent.quality.report import QualityFlag, QualityReport

_LAZY = {
    "QualityChecker": "checker", "QualityConfig": "config", "QualityFlag": "report",
    "QualityReport": "report",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["QualityChecker", "QualityConfig", "QualityFlag", "QualityReport"]
