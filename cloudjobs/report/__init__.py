"""The HTML report for agronomists: plots and plain-words summary from the curated lake.

``build_report`` writes ``index.html`` and its PNG files; ``main`` is ``cloudjobs report``.
"""

from cloudjobs.report.build import Report, build_report, main
from cloudjobs.report.errors import ReportError

__all__ = ["Report", "ReportError", "build_report", "main"]
