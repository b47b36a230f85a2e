"""The transport seam: the few operations the uploader needs to move bytes.

The uploader decides *what* to send and *when*; a transport only moves bytes and reports
what happened through the error tree in ``fieldagent.uplink.errors``. Every write is
create-only: writing a key that already exists never overwrites it and reports
``created=False``, which the uploader counts as delivered (the key is content-derived,
see ``fieldcontract.keys``). So a retry after a crash can neither duplicate nor
overwrite an object.

Two implementations: ``S3Transport`` (``s3://BUCKET/PREFIX``) and ``LocalTransport``
(``file:///DIR``, e.g. a mounted disk that is carried to the office, or tests).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from fieldagent.uplink.errors import PayloadCorrupt

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_META_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


@dataclass(frozen=True)
class PutOutcome:
    """The result of a create-only write.

    ``created=False`` means the key already existed (HTTP 412 on ``If-None-Match: *``):
    an earlier attempt got through, so this counts as delivered.
    """

    key: str
    created: bool


@dataclass(frozen=True)
class Part:
    """One uploaded part of a multipart upload.

    ``sha256_b64`` is the part's SHA-256, base64 as S3 wants it. Completion needs it for
    every part, but a server's part listing may leave it out (SeaweedFS does): then it is
    ``""`` and the uploader fills it from its local copy with ``with_local_copy``.
    """

    number: int
    etag: str
    sha256_b64: str
    size: int

    def with_local_copy(self, data: bytes) -> Part:
        """This listed part with the SHA-256 of the local bytes it was uploaded from.

        A size that differs means the server holds other bytes for this number: upload
        the part again instead.
        """
        if len(data) != self.size:
            raise ValueError(
                f"part {self.number}: the server holds {self.size} bytes, the local copy has "
                f"{len(data)}: upload this part again"
            )
        return replace(self, sha256_b64=sha256_b64(data))


@dataclass(frozen=True)
class Timeouts:
    """Socket timeouts, in seconds, for one request.

    ``read`` bounds every wait for the server, including a stalled upload: a link that
    goes silent for that long is reported as ``UplinkUnavailable`` instead of hanging.
    Size it to the slowest link: the kernel's send buffer (up to 4 MiB with Linux TCP
    autotuning) takes the end of a body at once, and the answer can only come once that
    buffer has drained over the link, e.g. about 60 s for 4 MiB at 64 KiB/s.
    """

    connect: float = 10.0
    read: float = 120.0


@runtime_checkable
class Transport(Protocol):
    """Moves bytes to one target. Keys are relative to the target's root or prefix."""

    name: str

    def put(
        self,
        key: str,
        body: bytes,
        *,
        sha256_hex: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> PutOutcome:
        """Create ``key`` with ``body`` unless it exists; the server verifies the SHA-256.

        ``body`` is checked against ``sha256_hex`` first (``PayloadCorrupt``, nothing
        sent). If ``key`` exists: ``created=False`` when it holds the same content (its
        ``sha256`` metadata), ``UplinkRejected`` code ``KeyCollision`` when it does not.
        """
        ...

    def begin_multipart(
        self, key: str, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Start a multipart upload and return its upload id (keep it to resume)."""
        ...

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> Part:
        """Upload part ``number`` (1-based) with its SHA-256.

        Complete with the ``Part`` this returns: if a number is sent twice, servers differ
        in which copy they list, but all complete the copy whose ETag they are given.
        """
        ...

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        """The parts the server holds for this upload, to resume after a restart.

        A number whose copies disagree is left out (send it again); ``sha256_b64`` may be
        ``""`` (fill it with ``Part.with_local_copy``).
        """
        ...

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[Part], *, sha256_hex: str | None = None
    ) -> PutOutcome:
        """Assemble the parts into ``key``, create-only; every part needs its SHA-256.

        ``created=False`` if ``key`` already exists (the upload is then aborted) or the
        upload id is gone but ``key`` exists (an earlier completion got through).
        """
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts; an unknown upload id is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        ...

    def get(self, key: str) -> bytes:
        """The content of ``key``."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix``, sorted."""
        ...


def open_transport(
    target: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    credentials: Mapping[str, str] | None = None,
    timeouts: Timeouts | None = None,
    proxy: str | None = None,
) -> Transport:
    """Open the transport for ``file:///DIR`` or ``s3://BUCKET/PREFIX``.

    ``endpoint_url``, ``region``, ``credentials`` (``access_key_id``,
    ``secret_access_key``, optional ``session_token``) and ``proxy`` apply to S3 only.
    """
    scheme = urlsplit(target).scheme
    if scheme == "file":
        from fieldagent.uplink.local import LocalTransport

        return LocalTransport.from_url(target)
    if scheme == "s3":
        from fieldagent.uplink.s3 import S3Options, S3Transport

        options = S3Options(
            endpoint_url=endpoint_url,
            region=region,
            timeouts=timeouts or Timeouts(),
            proxy=proxy,
        )
        return S3Transport.from_url(target, options=options, credentials=credentials)
    raise ValueError(
        f"uplink target {target!r} is neither file:///DIR nor s3://BUCKET/PREFIX: "
        "fix the uplink target in the site config"
    )


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Return user metadata as a dict after checking it fits in HTTP headers."""
    checked = dict(metadata or {})
    for name, value in checked.items():
        if not _META_KEY.fullmatch(name) or not (value.isascii() and value.isprintable()):
            raise ValueError(
                f"metadata {name!r}={value!r} cannot be sent as an S3 header: use a "
                "lower-case name of letters, digits and '-', and a printable ASCII value"
            )
    return checked


def check_parts(parts: Sequence[Part], *, where: str) -> None:
    """Parts for completion: at least one, numbers rising, each with its SHA-256."""
    numbers = [p.number for p in parts]
    if not parts or numbers != sorted(set(numbers)):
        raise ValueError(f"{where}: list each part once, by rising number; got {numbers}")
    if missing := [p.number for p in parts if not p.sha256_b64]:
        raise ValueError(
            f"{where}: parts {missing} have no SHA-256; fill it from the local copy with "
            "Part.with_local_copy(data) (part listings may leave it out)"
        )


def sha256_b64(data: bytes) -> str:
    """SHA-256 of ``data`` as base64, the form S3's ``x-amz-checksum-sha256`` wants."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def b64_to_hex(b64: str) -> str:
    """Turn a base64 SHA-256 into hex."""
    return base64.b64decode(b64).hex()


def verify_payload(body: bytes, sha256_hex: str, *, where: str) -> str:
    """Check ``body`` against its recorded digest and return its base64 SHA-256.

    Done before sending so a spool file damaged on disk is caught here, without spending
    metered bytes, and reported as ``PayloadCorrupt`` rather than retried forever.
    """
    actual = hashlib.sha256(body)
    if actual.hexdigest() != sha256_hex.lower():
        raise PayloadCorrupt(
            f"{where}: the {len(body)} bytes to send have SHA-256 {actual.hexdigest()}, "
            f"not the recorded {sha256_hex}: the spooled copy is damaged; quarantine it",
            code="PayloadCorrupt",
        )
    return base64.b64encode(actual.digest()).decode("ascii")
