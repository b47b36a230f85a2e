"""The error raised when the stress model cannot be loaded or used."""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class ModelError(FieldAgentError):
    """The model files are missing, corrupt or inconsistent; the agent refuses to start.

    The message names the file, says what is wrong and what to do about it.
    """
