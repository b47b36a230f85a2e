"""Moving bytes off the device: transports, their error tree, retry and a circuit breaker.

The uploader (what to send, when) builds on these; the transports only move bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

if TYPE_CHECKING:
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

_LAZY = {
    "BreakerState": "breaker", "BreakerStatus": "breaker", "CircuitBreaker": "breaker",
    "ChecksumMismatch": "errors", "CircuitOpen": "errors", "PayloadCorrupt": "errors",
    "UplinkError": "errors", "UplinkMisconfigured": "errors", "UplinkRejected": "errors",
    "UplinkUnavailable": "errors", "UploadGone": "errors", "LocalTransport": "local",
    "RetryPolicy": "retry", "backoff_delay": "retry", "next_retry_at": "retry", "retrying":
    "retry", "Part": "transport", "PutOutcome": "transport", "Timeouts": "transport",
    "Transport": "transport", "open_transport": "transport",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


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
