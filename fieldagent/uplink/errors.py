"""The uplink's error tree: what the uploader needs to know about a failed transfer.

Transports translate library errors (botocore, OSError) into these at the seam, always
``raise ... from exc``, so the uploader can decide by class alone:

* ``UplinkUnavailable``: the link or the server is having a bad moment. Keep the item,
  retry later with backoff. ``ChecksumMismatch`` (bytes damaged on the wire) and
  ``CircuitOpen`` (the breaker knows the link is down) are kinds of it.
* ``UplinkRejected``: the server understood and said no. Retrying the same request
  cannot help. ``UplinkMisconfigured`` (credentials, permissions, bucket, region) is
  about the site's setup, not the item: pause sending and alert, keep the item.
  ``PayloadCorrupt`` is about the item: its bytes no longer match their digest.
* ``UploadGone``: a multipart upload id is no longer known; start that multipart again.

``code`` and ``status`` carry the S3 error code and HTTP status when there was one, for
logs and the "drops by reason" counters.
"""

from __future__ import annotations

from datetime import datetime

from fieldagent.errors import FieldAgentError


class UplinkError(FieldAgentError):
    """Base of every error a transport raises on purpose."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class UplinkUnavailable(UplinkError):
    """Retry later: connection refused or reset, timeouts, DNS, 5xx, throttling.

    Also a device clock too far off for request signing (``RequestTimeTooSkewed``): on
    devices without a real-time clock that heals itself once NTP gets through.
    """


class ChecksumMismatch(UplinkUnavailable):
    """The server received bytes whose SHA-256 differs from the one we sent with them.

    The local bytes were checked before sending, so the damage happened on the way:
    sending again is the cure, which is why this is a kind of ``UplinkUnavailable``.
    """


class CircuitOpen(UplinkUnavailable):
    """The circuit breaker refuses calls while the link is known to be down.

    ``retry_at`` is when the breaker will let one probe through; retrying sooner is waste.
    """

    def __init__(self, message: str, *, retry_at: datetime, down_since: datetime | None):
        super().__init__(message, code="CircuitOpen")
        self.retry_at = retry_at
        self.down_since = down_since


class UplinkRejected(UplinkError):
    """Give up on this request and alert: the server refused it and will again."""


class UplinkMisconfigured(UplinkRejected):
    """The site's uplink setup is wrong (credentials, permissions, bucket, region).

    Every item would fail the same way, so the uploader should pause and alert rather
    than drop items one by one.
    """


class PayloadCorrupt(UplinkRejected):
    """The bytes handed to the transport do not match their recorded SHA-256.

    Nothing was sent. The spooled copy is damaged; quarantine it instead of retrying.
    """


class UploadGone(UplinkError):
    """A multipart upload id expired, was aborted or does not match its parts.

    Start the multipart upload again from scratch (``begin_multipart``).
    """
