"""One way to build a boto3 S3 client, for the device's uplink and the cloud jobs.

What both sides need: credential fields checked once, explicit timeouts, path-style
addressing for custom endpoints (SeaweedFS, MinIO), region ``us-east-1`` when a custom
endpoint names none, and checksums computed and validated only when an operation
requires them or the caller asks (botocore's newer default adds them to every request,
which some S3-compatible servers refuse). What differs is a setting, not code: the
device turns botocore's retries off and takes proxies only from its config; a batch job
lets botocore retry and honours the usual proxy variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

CREDENTIAL_FIELDS = frozenset({"access_key_id", "secret_access_key", "session_token"})


@dataclass(frozen=True)
class ClientOptions:
    """How to reach S3 and how hard to try.

    ``max_attempts`` counts the first try (1: botocore never retries). ``proxy`` is one
    proxy URL for http and https; ``env_proxies=False`` ignores ``HTTPS_PROXY`` and the
    like when no proxy is given.
    """

    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 1
    proxy: str | None = None
    env_proxies: bool = True
    tcp_keepalive: bool = False


def check_credentials(credentials: Mapping[str, str] | None) -> dict[str, str]:
    """``credentials`` as a dict, after refusing fields boto3 would not know."""
    creds = dict(credentials or {})
    if unknown := set(creds) - CREDENTIAL_FIELDS:
        raise ValueError(
            f"unknown S3 credential fields {sorted(unknown)}: use {sorted(CREDENTIAL_FIELDS)}"
        )
    return creds


def make_session(
    options: ClientOptions, credentials: Mapping[str, str] | None = None
) -> boto3.session.Session:
    """A boto3 session with these credentials (else boto3's chain: environment, files, role)."""
    creds = check_credentials(credentials)
    return boto3.session.Session(
        aws_access_key_id=creds.get("access_key_id"),
        aws_secret_access_key=creds.get("secret_access_key"),
        aws_session_token=creds.get("session_token"),
        region_name=options.region or ("us-east-1" if options.endpoint_url else None),
    )


def make_config(options: ClientOptions) -> Config:
    """The botocore config for ``options`` (module docstring for the choices)."""
    extra: dict[str, Any] = {}
    if options.proxy or not options.env_proxies:
        proxy = options.proxy
        extra["proxies"] = {"http": proxy, "https": proxy} if proxy else {}
    if options.tcp_keepalive:
        extra["tcp_keepalive"] = True
    return Config(
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retries={"total_max_attempts": max(1, options.max_attempts), "mode": "standard"},
        s3={"addressing_style": "path" if options.endpoint_url else "auto"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        **extra,
    )


def make_client(options: ClientOptions, credentials: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client built from ``make_session`` and ``make_config``."""
    session = make_session(options, credentials)
    return session.client("s3", endpoint_url=options.endpoint_url, config=make_config(options))
