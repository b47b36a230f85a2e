"""What a sink attempt can end in, besides success: "try again later" or "this will never work".

Library errors (``requests``, ``smtplib``, ``OSError``) are translated into these at the
sink's edge, so the dispatcher only decides *when* to try again, never *whether* from a
library's exception type.
"""

from __future__ import annotations

from fieldagent.errors import FieldAgentError


class SinkError(FieldAgentError):
    """A delivery attempt failed; the message says where, what happened and what to do."""


class SinkUnavailable(SinkError):
    """Temporary: the receiver is down, slow, overloaded or unreachable; retry later.

    ``retry_after`` (seconds) is the receiver's own request (HTTP ``Retry-After``), if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SinkRejected(SinkError):
    """Permanent: the receiver refused this delivery (bad URL, credentials, payload).

    Retrying would only repeat the refusal; a person must fix the sink's config.
    """
