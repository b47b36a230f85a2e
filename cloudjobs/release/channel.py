"""Write access to a model channel, for the publisher (the devices only read).

Two kinds of write, on purpose:

* ``put_immutable``: artifacts, create-only through the uplink's transports
  (``If-None-Match: *`` on S3, hard links in a folder). Publishing the same file again is a
  no-op; a *different* file under an existing key is refused: a version, once published,
  never changes under a device that may be downloading it.
* ``put_latest``: ``manifest.json`` and its signature, replaced in place (atomic rename in
  a folder, a plain PUT on S3) to publish, widen or halt a release.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from botocore import exceptions as bce

from fieldagent.modelupdate.channel import is_missing
from fieldagent.modelupdate.store import write_atomic
from fieldagent.uplink.errors import UplinkRejected
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client, translate
from fieldagent.uplink.transport import Transport, check_key, sha256_b64


class ReleaseError(Exception):
    """Publishing cannot go on; the message says why and what to do."""


class ChannelWriter:
    """Publishes into one channel; keys are relative to its folder or prefix."""

    def __init__(self, transport: Transport, write_latest: Callable[[str, bytes], None]) -> None:
        self._transport = transport
        self._write_latest = write_latest
        self.name = transport.name

    @classmethod
    def open(cls, url: str, *, endpoint_url: str | None = None, region: str | None = None,
             credentials: Mapping[str, str] | None = None) -> ChannelWriter:
        """``file:///DIR`` (created if missing) or ``s3://BUCKET/PREFIX``."""
        parts = urlsplit(url)
        if parts.scheme == "file":
            root = Path(unquote(parts.path))
            root.mkdir(parents=True, exist_ok=True)
            return cls(LocalTransport.from_url(url),
                       lambda key, data: write_atomic(root / check_key(key), data))
        if parts.scheme == "s3":
            client = make_client(S3Options(endpoint_url=endpoint_url, region=region),
                                 credentials)
            transport = S3Transport(client, parts.netloc, parts.path)

            def write_s3(key: str, data: bytes) -> None:
                full = transport.prefix + check_key(key)
                try:
                    client.put_object(Bucket=transport.bucket, Key=full, Body=io.BytesIO(data),
                                      ChecksumAlgorithm="SHA256", ChecksumSHA256=sha256_b64(data))
                except (bce.ClientError, bce.BotoCoreError) as exc:
                    raise translate(exc, f"S3 put s3://{transport.bucket}/{full}") from exc

            return cls(transport, write_s3)
        raise ReleaseError(f"channel {url!r} is neither file:///DIR nor s3://BUCKET/PREFIX")

    def put_immutable(self, key: str, data: bytes) -> bool:
        """Create ``key``; False if it already holds these bytes, ``ReleaseError`` if others."""
        try:
            outcome = self._transport.put(key, data, sha256_hex=hashlib.sha256(data).hexdigest())
        except UplinkRejected as exc:
            if exc.code != "KeyCollision":
                raise
            raise ReleaseError(f"{self.name}{key} already holds different bytes: a published "
                               "version never changes; bump the model version") from exc
        return outcome.created

    def put_latest(self, key: str, data: bytes) -> None:
        """Replace ``key`` (the manifest and its signature)."""
        self._write_latest(key, data)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        try:
            return self._transport.get(key)
        except UplinkRejected as exc:
            if is_missing(exc):
                return None
            raise
