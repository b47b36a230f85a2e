"""The one botocore error table: every row, from real ``ClientError``s built here."""

from __future__ import annotations

import pytest
from botocore import exceptions as bce

from objectstore.s3errors import Kind, Setup, classify


def client_error(code: str | None, status: int, message: str = "said no") -> bce.ClientError:
    """A ``ClientError`` as botocore builds it from an S3 answer (no code: a HEAD)."""
    error = {"Code": code, "Message": message} if code else {}
    response = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}
    return bce.ClientError(response, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("BadDigest", 400, Kind.DAMAGED),
    ("XAmzContentSHA256Mismatch", 400, Kind.DAMAGED),
    ("InvalidChecksum", 400, Kind.DAMAGED),
    ("NoSuchUpload", 404, Kind.UPLOAD_GONE),
    ("InvalidPart", 400, Kind.UPLOAD_GONE),
    ("SlowDown", 503, Kind.RETRY),
    ("RequestTimeTooSkewed", 403, Kind.RETRY),
    ("ConditionalRequestConflict", 409, Kind.RETRY),
    ("InternalError", 500, Kind.RETRY),
    (None, 502, Kind.RETRY),
    ("Whatever", 408, Kind.RETRY),
    ("Whatever", 429, Kind.RETRY),
    ("AccessDenied", 403, Kind.SETUP),
    ("InvalidAccessKeyId", 403, Kind.SETUP),
    (None, 403, Kind.SETUP),
    ("NoSuchBucket", 404, Kind.SETUP),
    ("PermanentRedirect", 301, Kind.SETUP),
    ("NoSuchKey", 404, Kind.NOT_FOUND),
    (None, 404, Kind.NOT_FOUND),
    ("NotFound", 404, Kind.NOT_FOUND),
    ("PreconditionFailed", 412, Kind.KEY_EXISTS),
    (None, 412, Kind.KEY_EXISTS),
    ("InvalidArgument", 400, Kind.REJECTED),
    ("MethodNotAllowed", 405, Kind.REJECTED),
])  # fmt: skip
def test_every_server_row(code: str | None, status: int, kind: Kind) -> None:
    found = classify(client_error(code, status))
    assert found.kind is kind
    assert found.code == (code or str(status))
    assert found.status == status
    assert found.message == ("said no" if code else "no message")


@pytest.mark.parametrize(("code", "setup"), [
    ("AccessDenied", Setup.CREDENTIALS), ("ExpiredToken", Setup.CREDENTIALS),
    (None, Setup.CREDENTIALS), ("NoSuchBucket", Setup.BUCKET),
    ("InvalidBucketName", Setup.BUCKET), ("AuthorizationHeaderMalformed", Setup.REGION),
])  # fmt: skip
def test_setup_errors_say_what_to_fix(code: str | None, setup: Setup) -> None:
    assert classify(client_error(code, 403 if code is None else 400)).setup is setup


def test_only_setup_errors_name_a_setup_part() -> None:
    assert classify(client_error("SlowDown", 503)).setup is None


@pytest.mark.parametrize(("exc", "kind"), [
    (bce.NoCredentialsError(), Kind.NO_CREDENTIALS),
    (bce.PartialCredentialsError(provider="env", cred_var="secret"), Kind.NO_CREDENTIALS),
    (bce.ParamValidationError(report="Bucket is missing"), Kind.REJECTED),
    (bce.ChecksumError(checksum_type="md5", expected_checksum="a", actual_checksum="b"),
     Kind.DAMAGED),
    (bce.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), Kind.UNREACHABLE),
    (bce.ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), Kind.UNREACHABLE),
    (bce.ConnectionClosedError(endpoint_url="http://127.0.0.1:9"), Kind.UNREACHABLE),
])  # fmt: skip
def test_every_client_side_row(exc: bce.BotoCoreError, kind: Kind) -> None:
    found = classify(exc)
    assert (found.kind, found.code, found.status) == (kind, type(exc).__name__, 0)
    assert found.message == str(exc)
