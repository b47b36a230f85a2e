"""Write access to a model channel, for the publisher (the devices only read).

A channel is one of the cloud's object stores (``cloudjobs.store``), so keys, the
create-only write and the error wording are the object-store seam's, as on the device's
side. Two kinds of write, on purpose:

* ``put_immutable``: artifacts, create-only (``If-None-Match: *`` on S3, a hard link in a
  folder). Publishing the same file again is a no-op; a *different* file under an
  existing key is refused: a version, once published, never changes under a device that
  may be downloading it.
* ``put_latest``: ``manifest.json`` and its signature, replaced in place (atomic rename in
  a folder, a plain PUT on S3) to publish, widen or halt a release.

On S3 every write carries its SHA-256 for the server to check, and devices validate it on
download (``ChecksumMode``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cloudjobs.store import LocalStore, ObjectNotFound, ObjectStore, S3Store


class ReleaseError(Exception):
    """Publishing cannot go on; the message says why and what to do."""


class ChannelWriter:
    """Publishes into one channel; keys are relative to its folder or prefix."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self.name = store.url

    @classmethod
    def open(cls, url: str, *, endpoint_url: str | None = None, region: str | None = None,
             credentials: Mapping[str, str] | None = None) -> ChannelWriter:
        """``file:///DIR`` (created if missing) or ``s3://BUCKET/PREFIX``."""
        parts = urlsplit(url)
        if parts.scheme == "file":
            root = Path(unquote(parts.path))
            root.mkdir(parents=True, exist_ok=True)
            return cls(LocalStore(root))
        if parts.scheme == "s3":
            # One attempt, as when the publisher borrowed the device's transport: the
            # operator reruns; a create-only rerun of what got through is a no-op.
            return cls(S3Store(parts.netloc, parts.path, endpoint_url, region, credentials,
                               max_attempts=1, checksums=True))
        raise ReleaseError(f"channel {url!r} is neither file:///DIR nor s3://BUCKET/PREFIX")

    def put_immutable(self, key: str, data: bytes) -> bool:
        """Create ``key``; False if it already holds these bytes, ``ReleaseError`` if others."""
        if self._store.put(key, data, create_only=True):
            return True
        if self._store.get(key) != data:
            where = f"{self.name.rstrip('/')}/{key}"
            raise ReleaseError(f"{where} already holds different bytes: a published version "
                               "never changes; bump the model version")
        return False

    def put_latest(self, key: str, data: bytes) -> None:
        """Replace ``key`` (the manifest and its signature)."""
        self._store.put(key, data)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        try:
            return self._store.get(key)
        except ObjectNotFound:
            return None
