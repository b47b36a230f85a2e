"""The report's own error: what is wrong with the arguments, and what to do (a lake that
cannot be read is ``cloudjobs.lake.errors.LakeError``, as for every cloud job)."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class ReportError(FieldAgentError):
    """The report cannot be built as asked (a bad window); the message says why."""
