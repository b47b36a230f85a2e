"""What the S3 transport relies on, checked on a real S3 server (SeaweedFS) over HTTP."""

from __future__ import annotations

import base64
import hashlib
import socket

import pytest
from botocore.exceptions import ClientError

from fieldagent.uplink.errors import (
    ChecksumMismatch,
    UplinkMisconfigured,
    UplinkUnavailable,
)
from fieldagent.uplink.retry import RetryPolicy, retrying
from fieldagent.uplink.s3 import translate
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3
from tests.support.uplink import S3Factory


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_stores_checksum_metadata_and_type_under_the_prefix(
    make_s3: S3Factory, seaweed_s3: SeaweedS3, bucket: str
) -> None:
    body = b"\xff\xd8 a small jpeg"
    make_s3().put("raw/image/x.jpg", body, sha256_hex=sha(body), content_type="image/jpeg")
    head = seaweed_s3.client().head_object(
        Bucket=bucket, Key="site-a/raw/image/x.jpg", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert head["Metadata"] == {"sha256": sha(body)}
    assert head["ContentType"] == "image/jpeg"


def test_server_refuses_a_wrong_sha256_header(seaweed_s3: SeaweedS3, bucket: str) -> None:
    """The property the transport builds on, shown with a plain client."""
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    with pytest.raises(ClientError) as err:
        seaweed_s3.client().put_object(
            Bucket=bucket, Key="k", Body=b"these bytes", ChecksumSHA256=wrong, IfNoneMatch="*"
        )
    assert err.value.response["Error"]["Code"] == "BadDigest"
    assert isinstance(translate(err.value, "put k"), ChecksumMismatch)


def test_bytes_damaged_on_the_wire_are_refused_then_resent(
    make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    body = b"greenhouse-7 PAYLOAD-MARKER " * 2000
    with PoorLink(("127.0.0.1", seaweed_s3.port)) as link:
        t = make_s3(endpoint_url=link.url)
        link.corrupt_next(b"PAYLOAD-MARKER", b"PAYLOAD-MARKEX")
        with pytest.raises(ChecksumMismatch):
            t.put("k/damaged.bin", body, sha256_hex=sha(body))
        assert not t.exists("k/damaged.bin")
        link.corrupt_next(b"PAYLOAD-MARKER", b"PAYLOAD-MARKEX")
        out = retrying(
            lambda: t.put("k/damaged.bin", body, sha256_hex=sha(body)),
            policy=RetryPolicy(max_attempts=3),
            sleep=lambda s: None,
        )
    assert out.created and make_s3().get("k/damaged.bin") == body


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("reader", "AccessDenied"),
        ("unknown key", "InvalidAccessKeyId"),
        ("wrong secret", "SignatureDoesNotMatch"),
        ("missing bucket", "NoSuchBucket"),
    ],
)
def test_setup_problems_are_misconfigured(
    make_s3: S3Factory, seaweed_s3: SeaweedS3, bucket: str, who: str, code: str
) -> None:
    admin, reader = seaweed_s3.credentials, seaweed_s3.reader_credentials
    creds = {
        "reader": reader,
        "unknown key": {"access_key_id": "nobody", "secret_access_key": "x"},
        "wrong secret": {**admin, "secret_access_key": "not-the-secret"},
        "missing bucket": admin,
    }[who]
    target = "s3://no-such-bucket-here/p" if who == "missing bucket" else None
    t = make_s3(credentials=creds, target=target)
    with pytest.raises(UplinkMisconfigured) as err:
        t.put("k/x.bin", b"x", sha256_hex=sha(b"x"))
    assert err.value.code == code
    assert seaweed_s3.endpoint_url in str(err.value) and "k/x.bin" in str(err.value)


def test_nothing_listening_is_unavailable(make_s3: S3Factory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        t = make_s3(endpoint_url=f"http://127.0.0.1:{port}")
        with pytest.raises(UplinkUnavailable, match="will retry"):
            t.exists("k/x.bin")


def test_environment_proxies_are_ignored(
    make_s3: S3Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would refuse every request
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    t = make_s3(read_timeout=9.5)  # a fresh client, built while the variables are set
    assert t.put("k/p.bin", b"p", sha256_hex=sha(b"p")).created
