"""Each S3 error response lands in the right branch of the uplink error tree.

The errors come over real HTTP from ``FaultyS3`` (moto's S3 behind a fault-injecting
middleware): a real server will not produce a 500 or a SlowDown on request.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fieldagent.uplink.errors import (
    ChecksumMismatch,
    UplinkError,
    UplinkMisconfigured,
    UplinkRejected,
    UplinkUnavailable,
    UploadGone,
)
from fieldagent.uplink.retry import RetryPolicy, retrying
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Timeouts
from tests.support.motoserver import FaultyS3

BODY = b"one signal record"
DIGEST = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyS3]:
    with FaultyS3() as server:
        yield server


@pytest.fixture(scope="module")
def client(faulty: FaultyS3) -> Any:
    options = S3Options(faulty.endpoint_url, timeouts=Timeouts(connect=2, read=5))
    return make_client(options, faulty.credentials)


@pytest.fixture
def transport(faulty: FaultyS3, client: Any) -> Iterator[S3Transport]:
    """A transport on a fresh bucket, no faults armed."""
    faulty.clear()
    bucket = f"f-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield S3Transport(client, bucket, "site-b")
    faulty.clear()


def put(t: S3Transport) -> object:
    return t.put("k/x.json", BODY, sha256_hex=DIGEST)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (500, "InternalError", UplinkUnavailable),
        (503, "SlowDown", UplinkUnavailable),
        (503, "ServiceUnavailable", UplinkUnavailable),
        (429, "TooManyRequests", UplinkUnavailable),
        (400, "RequestTimeout", UplinkUnavailable),
        (409, "ConditionalRequestConflict", UplinkUnavailable),
        (403, "RequestTimeTooSkewed", UplinkUnavailable),
        (502, "BadGateway", UplinkUnavailable),
        (400, "BadDigest", ChecksumMismatch),
        (400, "XAmzContentSHA256Mismatch", ChecksumMismatch),
        (403, "AccessDenied", UplinkMisconfigured),
        (403, "InvalidAccessKeyId", UplinkMisconfigured),
        (404, "NoSuchBucket", UplinkMisconfigured),
        (403, "SignatureDoesNotMatch", UplinkMisconfigured),
        (400, "InvalidBucketName", UplinkMisconfigured),
        (400, "EntityTooLarge", UplinkRejected),
        (400, "MalformedXML", UplinkRejected),
    ],
)
def test_put_error_responses_map_to_the_error_tree(
    faulty: FaultyS3, transport: S3Transport, status: int, code: str, expected: type
) -> None:
    faulty.inject(status, code, method="PUT", match="k/x.json")
    with pytest.raises(UplinkError) as err:
        put(transport)
    assert type(err.value) is expected
    assert (err.value.code, err.value.status) == (code, status)
    message = str(err.value)
    assert faulty.endpoint_url in message and f"s3://{transport.bucket}/site-b/k/x.json" in message


def test_retryable_is_not_misread_as_rejected() -> None:
    assert not issubclass(UplinkUnavailable, UplinkRejected)
    assert not issubclass(UploadGone, UplinkRejected | UplinkUnavailable)


def test_the_clock_skew_message_points_at_ntp(faulty: FaultyS3, transport: S3Transport) -> None:
    faulty.inject(403, "RequestTimeTooSkewed", method="PUT")
    with pytest.raises(UplinkUnavailable, match="NTP"):
        put(transport)


@pytest.mark.parametrize(
    ("call", "method", "match", "status", "code", "expected"),
    [
        ("part", "PUT", "uploadId", 404, "NoSuchUpload", UploadGone),
        ("complete", "POST", "uploadId", 400, "InvalidPart", UploadGone),
        ("complete", "POST", "uploadId", 503, "SlowDown", UplinkUnavailable),
        ("list_parts", "GET", "uploadId", 500, "InternalError", UplinkUnavailable),
        ("exists", "HEAD", "k/x.json", 503, "ServiceUnavailable", UplinkUnavailable),
        ("exists", "HEAD", "k/x.json", 403, "AccessDenied", UplinkMisconfigured),
        ("get", "GET", "k/x.json", 500, "InternalError", UplinkUnavailable),
        ("list", "GET", "list-type", 503, "SlowDown", UplinkUnavailable),
    ],
)
def test_other_operations_map_too(
    faulty: FaultyS3,
    transport: S3Transport,
    call: str,
    method: str,
    match: str,
    status: int,
    code: str,
    expected: type,
) -> None:
    upload = transport.begin_multipart("k/x.json", content_type="application/json")
    part = transport.put_part("k/x.json", upload, 1, BODY)
    operations: dict[str, Callable[[], object]] = {
        "part": lambda: transport.put_part("k/x.json", upload, 1, BODY),
        "complete": lambda: transport.complete_multipart("k/x.json", upload, [part]),
        "list_parts": lambda: transport.list_parts("k/x.json", upload),
        "exists": lambda: transport.exists("k/x.json"),
        "get": lambda: transport.get("k/x.json"),
        "list": lambda: transport.list("k/"),
    }
    faulty.inject(status, code, method=method, match=match)
    with pytest.raises(UplinkError) as err:
        operations[call]()
    assert type(err.value) is expected and err.value.code in (code, str(status))


def test_botocore_does_not_retry_on_its_own(faulty: FaultyS3, transport: S3Transport) -> None:
    fault = faulty.inject(503, "SlowDown", method="PUT", times=5)
    with pytest.raises(UplinkUnavailable):
        put(transport)
    assert fault.times == 4  # exactly one request went out


def test_retrying_rides_out_a_few_slowdowns(faulty: FaultyS3, transport: S3Transport) -> None:
    faulty.inject(503, "SlowDown", method="PUT", times=2)
    waits: list[float] = []
    out = retrying(lambda: put(transport), policy=RetryPolicy(max_attempts=4), sleep=waits.append)
    assert len(waits) == 2 and transport.get("k/x.json") == BODY
    assert getattr(out, "created", None) is True


def test_a_412_for_an_object_that_is_not_there_is_retried_not_counted(
    faulty: FaultyS3, transport: S3Transport
) -> None:
    faulty.inject(412, "PreconditionFailed", method="PUT")
    with pytest.raises(UplinkUnavailable, match="not there"):
        put(transport)
