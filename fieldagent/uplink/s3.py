"""The S3 transport: create-only, checksummed writes through boto3.

* Create-only: every write carries ``If-None-Match: *``; a retry of something that did
  arrive gets 412, which is ``created=False`` once one HEAD has shown that the object
  there has our SHA-256 (a different one is reported, never counted as delivered).
* Checksums: every put and part carries its SHA-256; the server refuses bytes damaged on
  the way (``ChecksumMismatch``, retried).
* Multipart: completion is create-only; an upload id the server no longer knows is
  ``UploadGone``, unless the object exists (an earlier completion got through).
* botocore's own retries are off (``total_max_attempts=1``): ``fieldagent.uplink.retry``
  and the circuit breaker decide, so a slow link is not hammered by two retry loops.
  Proxies come only from the config, never from environment variables.
"""

from __future__ import annotations

import builtins
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from botocore import exceptions as bce

from fieldagent.uplink.errors import (
    ChecksumMismatch,
    UplinkError,
    UplinkMisconfigured,
    UplinkRejected,
    UplinkUnavailable,
    UploadGone,
)
from fieldagent.uplink.transport import (
    DEFAULT_CONTENT_TYPE,
    Part,
    PutOutcome,
    Timeouts,
    check_metadata,
    check_parts,
    sha256_b64,
    verify_payload,
)
from objectstore import s3client
from objectstore.keys import check_key
from objectstore.s3errors import Classified, Kind, Setup, classify

T = TypeVar("T")


@dataclass(frozen=True)
class S3Options:
    """How to reach S3: endpoint (for S3-compatible servers), region, timeouts, proxy."""

    endpoint_url: str | None = None
    region: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    proxy: str | None = None


def make_client(options: S3Options, credentials: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client with explicit timeouts, no retries and no environment proxies.

    ``credentials`` holds ``access_key_id``, ``secret_access_key`` and optionally
    ``session_token``; without it boto3's usual chain applies (environment, files, role).
    """
    settings = s3client.ClientOptions(
        endpoint_url=options.endpoint_url,
        region=options.region,
        connect_timeout=options.timeouts.connect,
        read_timeout=options.timeouts.read,
        max_attempts=1,
        proxy=options.proxy,
        env_proxies=False,
        tcp_keepalive=True,
    )
    return s3client.make_client(settings, credentials)


class S3Transport:
    """Moves bytes to ``s3://bucket/prefix`` with create-only, checksummed requests."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.name = f"s3://{bucket}/{self.prefix}"
        self.endpoint = str(client.meta.endpoint_url)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        options: S3Options | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> S3Transport:
        """Open ``s3://BUCKET/PREFIX``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not 3 <= len(parts.netloc) <= 63:
            raise ValueError(f"uplink target {url!r} is not like s3://BUCKET/PREFIX")
        client = make_client(options or S3Options(), credentials)
        return cls(client, parts.netloc, parts.path)

    # -- single objects -------------------------------------------------------------

    def put(
        self,
        key: str,
        body: bytes,
        *,
        sha256_hex: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> PutOutcome:
        """Create ``key`` unless it exists; the server checks the body's SHA-256."""
        checksum = verify_payload(body, sha256_hex, where=self._where("put", key))
        meta = {**check_metadata(metadata), "sha256": sha256_hex.lower()}
        try:
            self._request(
                "put",
                key,
                "put_object",
                # A file object, not bytes: http.client then sends it in blocks, and the
                # read timeout bounds each block instead of the whole body (sendall's rule).
                Body=io.BytesIO(body),
                ContentType=content_type,
                Metadata=meta,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                IfNoneMatch="*",
            )
        except UplinkRejected as exc:
            if exc.status != 412:
                raise
            self._confirm_same(key, sha256_hex)
            return PutOutcome(key=key, created=False)
        return PutOutcome(key=key, created=True)

    def exists(self, key: str) -> bool:
        """HEAD the key: True if it exists, False on 404."""
        try:
            self._request("head", key, "head_object")
        except UplinkRejected as exc:
            if exc.status != 404:
                raise
            return False
        return True

    def get(self, key: str) -> bytes:
        """The object's bytes; botocore checks them against the stored SHA-256 if any."""

        def fetch() -> bytes:  # reading the body can fail too: inside the guard
            response = self._client.get_object(
                Bucket=self.bucket, Key=self._full(key), ChecksumMode="ENABLED"
            )
            return bytes(response["Body"].read())

        return self._guard("get", key, fetch)

    def list(self, prefix: str) -> builtins.list[str]:
        """Keys (relative to the transport's prefix) starting with ``prefix``, sorted."""

        def listing() -> builtins.list[str]:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
            return sorted(k[len(self.prefix) :] for k in keys)

        return self._guard("list", prefix, listing)

    # -- multipart --------------------------------------------------------------------

    def begin_multipart(
        self, key: str, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Start a SHA-256-checksummed multipart upload; put ``sha256`` in ``metadata``
        so a later 412 can be checked against the object that is already there."""
        response = self._request(
            "begin multipart",
            key,
            "create_multipart_upload",
            ContentType=content_type,
            Metadata=check_metadata(metadata),
            ChecksumAlgorithm="SHA256",
        )
        return str(response["UploadId"])

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> Part:
        """Upload one part with its SHA-256; the server refuses damaged bytes."""
        checksum = sha256_b64(data)
        response = self._request(
            f"put part {number} of",
            key,
            "upload_part",
            UploadId=upload_id,
            PartNumber=number,
            Body=io.BytesIO(data),
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        return Part(number=number, etag=response["ETag"], sha256_b64=checksum, size=len(data))

    def list_parts(self, key: str, upload_id: str) -> builtins.list[Part]:
        """The parts the server holds, by number (``sha256_b64`` is "" if not reported).

        SeaweedFS keeps every copy of a part number sent twice, lists them in no particular
        order, and completion takes the copy whose ETag it is given. So a number listed
        with two different ETags is left out: the uploader sends it again and completes
        with the ETag that ``put_part`` returned.
        """

        def listing() -> builtins.list[Part]:
            pages = self._client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=self._full(key), UploadId=upload_id
            )
            by_number: dict[int, builtins.list[Part]] = {}
            for part in (_part(p) for page in pages for p in page.get("Parts", [])):
                by_number.setdefault(part.number, []).append(part)
            return [
                copies[0]
                for _, copies in sorted(by_number.items())
                if len({c.etag for c in copies}) == 1
            ]

        return self._guard("list parts of", key, listing)

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[Part], *, sha256_hex: str | None = None
    ) -> PutOutcome:
        """Assemble the parts into ``key``, create-only (``If-None-Match: *``).

        ``sha256_hex`` (of the whole object) is used to check an object found already
        there; give it in ``begin_multipart``'s metadata as ``sha256`` too. A part SHA-256
        that does not match its uploaded part is ``UploadGone``, not a retry: the XML sent
        here is tiny and signed, so the mismatch is in the parts, not on the wire.
        """
        where = self._where("complete multipart", key)
        check_parts(parts, where=where)
        entries = [
            {"PartNumber": p.number, "ETag": p.etag, "ChecksumSHA256": p.sha256_b64} for p in parts
        ]
        try:
            self._request(
                "complete multipart",
                key,
                "complete_multipart_upload",
                UploadId=upload_id,
                MultipartUpload={"Parts": entries},
                IfNoneMatch="*",
            )
            return PutOutcome(key=key, created=True)
        except ChecksumMismatch as exc:
            raise UploadGone(
                f"{exc}; the parts differ: begin the upload again", code=exc.code
            ) from exc
        except UploadGone as exc:
            if exc.code != "NoSuchUpload" or not self.exists(key):
                raise
        except UplinkRejected as exc:
            if exc.status != 412:
                raise
            self.abort_multipart(key, upload_id)
        self._confirm_same(key, sha256_hex)
        return PutOutcome(key=key, created=False)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; an upload the server no longer knows is fine."""
        try:
            self._request("abort multipart", key, "abort_multipart_upload", UploadId=upload_id)
        except UploadGone:
            return

    # -- internals --------------------------------------------------------------------

    def _confirm_same(self, key: str, sha256_hex: str | None) -> None:
        """After a 412: make sure the object already there is ours, not another one."""
        try:
            stored = self._request("head", key, "head_object").get("Metadata", {}).get("sha256")
        except UplinkRejected as exc:
            if exc.status != 404:
                raise
            raise UplinkUnavailable(
                f"{self._where('put', key)}: the server said the object exists (412) but "
                "it is not there now; will retry",
                code="PreconditionFailed",
                status=412,
            ) from exc
        if sha256_hex is None or stored is None or stored == sha256_hex.lower():
            return
        raise UplinkRejected(
            f"{self._where('put', key)}: a different object is already there (sha256 "
            f"{stored}, ours {sha256_hex}); it was not overwritten: check the key scheme",
            code="KeyCollision",
            status=412,
        )

    def _request(self, op: str, key: str, method: str, **params: Any) -> dict[str, Any]:
        """One S3 request on ``key`` (bucket and prefix added), errors translated."""
        call = getattr(self._client, method)
        full = self._full(key)
        return self._guard(op, key, lambda: dict(call(Bucket=self.bucket, Key=full, **params)))

    def _guard(self, op: str, key: str, fn: Callable[[], T]) -> T:
        """Run boto3 code, translating its errors at the seam."""
        try:
            return fn()
        except (bce.ClientError, bce.BotoCoreError) as exc:
            raise translate(exc, self._where(op, key)) from exc

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _where(self, op: str, key: str) -> str:
        return f"S3 {op} s3://{self.bucket}/{self.prefix}{key} at {self.endpoint}"


def _part(entry: Mapping[str, Any]) -> Part:
    return Part(
        number=int(entry["PartNumber"]),
        etag=str(entry["ETag"]),
        sha256_b64=str(entry.get("ChecksumSHA256") or ""),
        size=int(entry["Size"]),
    )


# Error translation: the kind comes from the shared table, the class and hint from here.
_CLASS: dict[Kind, type[UplinkError]] = {
    Kind.DAMAGED: ChecksumMismatch,
    Kind.UPLOAD_GONE: UploadGone,
    Kind.RETRY: UplinkUnavailable,
    Kind.SETUP: UplinkMisconfigured,
    Kind.NOT_FOUND: UplinkRejected,
    Kind.KEY_EXISTS: UplinkRejected,
    Kind.REJECTED: UplinkRejected,
}
_HINT = {
    Kind.DAMAGED: "bytes were damaged on the way; will send again",
    Kind.UPLOAD_GONE: "begin the multipart upload again",
    Kind.RETRY: "will retry later",
}
_SETUP_HINT = {
    Setup.CREDENTIALS: "check the site's S3 credentials and the bucket policy",
    Setup.BUCKET: "create the bucket or fix the target",
    Setup.REGION: "set the bucket's region",
}
_REFUSED = "the server refused this request; not retrying"


def translate(exc: bce.ClientError | bce.BotoCoreError, where: str) -> UplinkError:
    """Map a botocore error onto the uplink error tree, with a sentence saying what to do."""
    if isinstance(exc, bce.BotoCoreError):
        return _translate_botocore(exc, where)
    found = classify(exc)
    cls = _CLASS[found.kind]
    return cls(
        f"{where} failed: {found.code} (HTTP {found.status}): {found.message}: {_hint(found)}",
        code=found.code,
        status=found.status,
    )


def _hint(found: Classified) -> str:
    """What to do about a server's answer of this kind."""
    if found.code == "RequestTimeTooSkewed":
        return "the device clock is off; check NTP"
    if found.setup is not None:
        return _SETUP_HINT[found.setup]
    return _HINT.get(found.kind, _REFUSED)


def _translate_botocore(exc: bce.BotoCoreError, where: str) -> UplinkError:
    """Client-side failures: no answer (retry), a damaged answer (retry), or no credentials."""
    found = classify(exc)
    name = found.code
    if found.kind is Kind.NO_CREDENTIALS:
        return UplinkMisconfigured(f"{where}: {exc}: give the site S3 credentials", code=name)
    if found.kind is Kind.REJECTED:
        return UplinkRejected(f"{where}: {exc}: this is a bug in the caller", code=name)
    if found.kind is Kind.DAMAGED:
        return ChecksumMismatch(f"{where}: {exc}: the download was damaged; will retry", code=name)
    return UplinkUnavailable(
        f"{where}: {exc}: the link or the server is down; will retry", code=name
    )
