"""The report's own error: what went wrong with the lake or the arguments, and what to do."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class ReportError(FieldAgentError):
    """The report cannot be built (lake unreachable, bad window); the message says why."""
