"""Errors of the analysis job and the fleet view, in the project's error tree."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class LakeError(FieldAgentError):
    """The lake cannot be opened or read: the message names the place and what to check."""


class AnalysisInputError(FieldAgentError):
    """A command-line value or crop mapping is wrong: the message says which and how to fix it."""
