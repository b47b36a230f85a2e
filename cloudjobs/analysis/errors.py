"""Errors of the analysis job, in the project's error tree (a lake that cannot be read is
``cloudjobs.lake.errors.LakeError``, as for every cloud job)."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class AnalysisInputError(FieldAgentError):
    """A command-line value or crop mapping is wrong: the message says which and how to fix it."""
