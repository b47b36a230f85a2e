"""One table that classifies botocore errors; each side words them for its own readers.

The device's uplink turns a kind into its error tree (retry later, alert, start the
upload again); the cloud jobs into ``StoreError`` and ``ObjectNotFound``. The *kind* is
decided here only, so both sides agree on what, say, a 403 or a ``SlowDown`` means.

Rows are tried in order; codes first, then the HTTP status (a HEAD has no body, so its
error has no code beyond the status).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from botocore import exceptions as bce


class Kind(enum.Enum):
    """What a failed S3 request means for whoever made it."""

    NOT_FOUND = "not found"  # the key (or its HEAD) is not there
    KEY_EXISTS = "key exists"  # a create-only write found the key taken (412)
    RETRY = "retry"  # the server is busy, failing or says the clock is off
    SETUP = "setup"  # credentials, permissions, bucket or region are wrong
    DAMAGED = "damaged"  # bytes did not match their checksum on the way
    UPLOAD_GONE = "upload gone"  # a multipart upload id or part is no longer valid
    REJECTED = "rejected"  # the server (or botocore) refused this request for good
    UNREACHABLE = "unreachable"  # no usable answer: connection, DNS, timeout
    NO_CREDENTIALS = "no credentials"  # boto3 found no (or only partial) credentials


class Setup(enum.Enum):
    """Which part of the setup a ``Kind.SETUP`` error points at."""

    CREDENTIALS = "credentials"
    BUCKET = "bucket"
    REGION = "region"


@dataclass(frozen=True)
class Classified:
    """A botocore error, classified: its kind, S3 code, HTTP status and message."""

    kind: Kind
    code: str
    status: int
    message: str
    setup: Setup | None = None


RETRY_CODES = frozenset({
    "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
    "ThrottlingException", "RequestThrottled", "TooManyRequests", "OperationAborted",
    "ConditionalRequestConflict", "IncompleteBody", "RequestTimeTooSkewed",
})  # fmt: skip
DAMAGED_CODES = frozenset({"BadDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"})
GONE_CODES = frozenset({"NoSuchUpload", "InvalidPart"})
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
SETUP_CODES: dict[str, Setup] = {
    **dict.fromkeys(
        ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
         "InvalidToken", "AllAccessDisabled", "AccountProblem", "403"), Setup.CREDENTIALS),
    **dict.fromkeys(("NoSuchBucket", "InvalidBucketName"), Setup.BUCKET),
    **dict.fromkeys(("PermanentRedirect", "AuthorizationHeaderMalformed"), Setup.REGION),
}  # fmt: skip


def classify(exc: bce.ClientError | bce.BotoCoreError) -> Classified:
    """The kind of a botocore error (see the module docstring for the order of rows)."""
    if isinstance(exc, bce.BotoCoreError):
        return Classified(_client_side_kind(exc), type(exc).__name__, 0, str(exc))
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(error.get("Code") or status)
    message = str(error.get("Message") or "no message")
    kind = _server_kind(code, status)
    setup = SETUP_CODES.get(code, Setup.CREDENTIALS) if kind is Kind.SETUP else None
    return Classified(kind, code, status, message, setup)


def _server_kind(code: str, status: int) -> Kind:
    """The kind of an error the server answered with."""
    if code in DAMAGED_CODES:
        return Kind.DAMAGED
    if code in GONE_CODES:
        return Kind.UPLOAD_GONE
    if code in RETRY_CODES or status >= 500 or status in (408, 429):
        return Kind.RETRY
    if code in SETUP_CODES or status == 403:
        return Kind.SETUP
    if code in NOT_FOUND_CODES or status == 404:
        return Kind.NOT_FOUND
    if code == "PreconditionFailed" or status == 412:
        return Kind.KEY_EXISTS
    return Kind.REJECTED


def _client_side_kind(exc: bce.BotoCoreError) -> Kind:
    """The kind of a failure botocore raised itself, without a server answer."""
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return Kind.NO_CREDENTIALS
    if isinstance(exc, bce.ParamValidationError):
        return Kind.REJECTED
    if isinstance(exc, bce.ChecksumError):
        return Kind.DAMAGED
    return Kind.UNREACHABLE
