"""Moving bytes off the device: transports, their error tree, retry and a circuit breaker.

The uploader (what to send, when) builds on these; the transports only move bytes.
"""

from fieldagent.uplink.breaker import BreakerState, BreakerStatus, CircuitBreaker
from fieldagent.uplink.errors import (
    ChecksumMismatch,
    CircuitOpen,
    PayloadCorrupt,
    UplinkError,
    UplinkMisconfigured,
    UplinkRejected,
    UplinkUnavailable,
    UploadGone,
)
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.retry import RetryPolicy, backoff_delay, next_retry_at, retrying
from fieldagent.uplink.transport import Part, PutOutcome, Timeouts, Transport, open_transport

__all__ = [
    "BreakerState",
    "BreakerStatus",
    "ChecksumMismatch",
    "CircuitBreaker",
    "CircuitOpen",
    "LocalTransport",
    "Part",
    "PayloadCorrupt",
    "PutOutcome",
    "RetryPolicy",
    "Timeouts",
    "Transport",
    "UplinkError",
    "UplinkMisconfigured",
    "UplinkRejected",
    "UplinkUnavailable",
    "UploadGone",
    "backoff_delay",
    "next_retry_at",
    "open_transport",
    "retrying",
]
