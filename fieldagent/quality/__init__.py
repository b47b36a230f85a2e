"""Image quality checks: is this frame fit to measure plants on?

Pure metric functions live in :mod:`fieldagent.quality.metrics`; the
:class:`QualityChecker` holds one camera's baseline and moved-reference and
turns the metrics into flags (:class:`QualityReport`).
"""

from fieldagent.quality.checker import QualityChecker
from fieldagent.quality.config import QualityConfig
from fieldagent.quality.report import QualityFlag, QualityReport

__all__ = ["QualityChecker", "QualityConfig", "QualityFlag", "QualityReport"]
