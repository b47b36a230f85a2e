"""The project's own error tree.

Library errors are translated at the seams into these, so a caller can tell
"this input is bad, skip it" from "this configuration is wrong, refuse to start".
Every message is a sentence a site technician can act on.
"""

from __future__ import annotations


class FieldAgentError(Exception):
    """Base of every error fieldagent raises on purpose."""


class ImageRejected(FieldAgentError):
    """An image cannot be analysed; it is skipped (and quarantined by the service).

    ``reason`` is a short machine-friendly code (``empty``, ``truncated``,
    ``not_an_image``, ``too_large``, ``unsupported_mode`` ...); the message says
    what happened and what to do.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigError(FieldAgentError):
    """A site config or policy file is invalid; the agent refuses to start.

    ``problems`` holds one line per problem, each ``file: key.path: value: what is wrong``.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
