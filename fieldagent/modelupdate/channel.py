"""Read access to a model channel: a local folder (``file:///DIR``) or ``s3://BUCKET/PREFIX``.

The device only reads a channel. The uplink's transports already read both kinds of
target with the right timeouts, checksum validation and error translation, so a channel
is one of them seen through the two operations the updater needs. Errors keep the
uplink's tree: ``UplinkUnavailable`` (try again at the next poll), ``UplinkRejected``
with code ``NoSuchKey`` (the object is not there), ``UplinkMisconfigured`` (credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from fieldagent.uplink.errors import UplinkRejected
from fieldagent.uplink.transport import Timeouts, open_transport


@runtime_checkable
class ChannelReader(Protocol):
    """Reads objects of one channel; keys are relative to the channel's root or prefix."""

    name: str

    def get(self, key: str) -> bytes:
        """The object's bytes."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        ...


def open_channel(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    credentials: Mapping[str, str] | None = None,
    timeouts: Timeouts | None = None,
) -> ChannelReader:
    """The reader of ``file:///DIR`` or ``s3://BUCKET/PREFIX`` (S3 options apply to S3 only)."""
    return open_transport(url, endpoint_url=endpoint_url, region=region,
                          credentials=credentials, timeouts=timeouts)


def is_missing(exc: UplinkRejected) -> bool:
    """True when the error says the object does not exist (404 / NoSuchKey)."""
    return exc.code in ("NoSuchKey", "404") or exc.status == 404
