"""The object store the cloud jobs read and write: an S3 bucket (prefix) or a local folder.

Both hold the SAME keys (``raw/...``, ``curated/...``, ``state/...``), so a lake built in a
folder by the demo and one in a bucket are read by the same code and the same queries.

Promises every store keeps (the ingest protocol in ``cloudjobs.lake`` relies on them):

* ``put`` of one object is atomic: a reader sees the old object, no object, or the whole new
  one, never a torn file (local: fsynced temp file in ``<root>/.tmp`` + rename; S3: one PUT).
* ``put(..., create_only=True)`` writes only if the key does not exist and says whether it
  did, atomically (local: ``os.link``, which fails on an existing name; S3: ``If-None-Match:
  *``). Two writers racing for one key: exactly one wins. This is the commit point of
  every lake transaction.
* ``list`` and ``list_dirs`` never show a local store's own state (its dot-folders).

Keys, the local layout, the create-only write, the boto3 client and the classification
of botocore errors are the object-store seam's (``objectstore``), shared with the
device's uplink; this module words the errors for a batch job: :class:`StoreError`
(``ObjectNotFound`` for a missing key), with what to check, so a job can report them
instead of a botocore traceback.
"""

from __future__ import annotations

import argparse
import base64
import builtins
import errno
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import unquote, urlsplit

import pyarrow.fs as pafs

from fieldagent.errors import FieldAgentError
from objectstore import localfs, s3client
from objectstore.keys import check_key, is_local_state
from objectstore.s3errors import Classified, Kind, Setup, classify

T = TypeVar("T")
DEFAULT_STORE = "./fieldagent-demo/cloud"


class StoreError(FieldAgentError):
    """The object store could not do what was asked (missing bucket, no access, unreachable)."""


class ObjectNotFound(StoreError):
    """The key does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: its key (relative to the store), size and a change token
    (the S3 ETag, or the local file's mtime in nanoseconds)."""

    key: str
    size: int
    version: str


@runtime_checkable
class ObjectStore(Protocol):
    """What the lake needs from an object store (module docstring for the guarantees)."""

    url: str

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """The "folders" directly under ``prefix`` (which ends with ``/``), each ending
        with ``/``: cheap discovery of kinds, sites and dates without listing every object."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; ``ObjectNotFound`` if it does not exist."""
        ...

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> bool:
        """Write ``data`` atomically; with ``create_only`` only if ``key`` does not exist.
        Returns whether the object was written."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error (deletes are retried after crashes)."""
        ...

    def copy(self, src: str, dst: str) -> None:
        """Copy ``src`` to ``dst`` (replacing ``dst``)."""
        ...

    def move(self, src: str, dst: str) -> None:
        """Copy, then delete the source (not atomic: a crash can leave both)."""
        ...

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem on the same objects and the path that key ``""`` maps to,
        so that ``f"{base}/{key}"`` opens ``key`` (used by pyarrow datasets and DuckDB)."""
        ...


# -- local folder -------------------------------------------------------------------------


class LocalStore:
    """Objects as files under ``root``; keys are relative paths (module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).absolute()
        self.url = f"file://{self.root}"

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Walk only the folders that can hold ``prefix`` (sorted, so keys come in order)."""
        self._root_ok()
        base, _, _ = prefix.rpartition("/")
        start = self.root / base if base else self.root
        if not start.is_dir():
            return
        keys = localfs.walk_keys(self.root, start)
        for key in sorted(k for k in keys if k.startswith(prefix)):
            try:
                st = (self.root / key).stat()
            except FileNotFoundError:  # deleted while listing (compaction): not there
                continue
            yield ObjectInfo(key, st.st_size, str(st.st_mtime_ns))

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        self._root_ok()
        folder = self.root / prefix if prefix else self.root
        if not folder.is_dir():
            return []
        names = sorted(e.name for e in os.scandir(folder)
                       if e.is_dir() and not is_local_state(e.name))
        return [f"{prefix}{name}/" for name in names]

    def get(self, key: str) -> bytes:
        path = self.root / check_key(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            self._root_ok()
            raise ObjectNotFound(f"{self.url}: no object {key!r}") from exc
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> bool:
        check_key(key)
        self._root_ok()
        try:
            if create_only:
                return localfs.create_new(self.root, key, data)
            localfs.replace(self.root, key, data)
            return True
        except OSError as exc:
            raise self._error("write", key, exc) from exc

    def exists(self, key: str) -> bool:
        self._root_ok()
        return (self.root / check_key(key)).is_file()

    def delete(self, key: str) -> None:
        path = self.root / check_key(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("delete", key, exc) from exc
        _prune_empty(path.parent, self.root)

    def copy(self, src: str, dst: str) -> None:
        self.put(dst, self.get(src))

    def move(self, src: str, dst: str) -> None:
        self.copy(src, dst)
        self.delete(src)

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), self.root.as_posix()

    def _root_ok(self) -> None:
        """A missing root is a setup problem (wrong path, disk not mounted), not "empty"."""
        if not self.root.is_dir():
            raise StoreError(
                f"the lake folder {self.root} does not exist: check --store "
                "(a path, file:///path or s3://bucket/prefix) and that the disk is mounted"
            )

    def _error(self, op: str, key: str, exc: OSError) -> StoreError:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreError(f"{self.url}: cannot {op} {key!r}: {exc.strerror}: "
                              f"give this job write access to {self.root}")
        return StoreError(f"{self.url}: cannot {op} {key!r}: {exc}")


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove folders left empty by a delete (staging runs, compacted partitions)."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# -- S3 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Settings:
    """How to reach the bucket: endpoint (S3-compatible servers), region, credentials.

    ``credentials`` holds ``access_key_id``, ``secret_access_key`` and optionally
    ``session_token``; without it boto3's usual chain applies (environment, files, role).
    ``max_attempts`` counts the first try: botocore retries throttling and dropped
    connections with backoff (a batch job can wait; an agent on a metered link cannot).
    ``checksums`` sends each write's SHA-256 for the server to check (the model-release
    publisher wants that; lake writes are checked by their readers instead).
    """

    endpoint_url: str | None = None
    region: str | None = None
    credentials: Mapping[str, str] | None = None
    max_attempts: int = 5
    checksums: bool = False

    def client_options(self) -> s3client.ClientOptions:
        """The shared client builder's options: 10 s to connect, 60 s per read."""
        return s3client.ClientOptions(endpoint_url=self.endpoint_url, region=self.region,
                                      connect_timeout=10, read_timeout=60,
                                      max_attempts=self.max_attempts)


class S3Store:
    """Objects in ``s3://bucket/prefix``; keys are relative to the prefix.

    Picklable (the boto3 client is rebuilt on first use in each process), so a store can be
    handed to a process pool or a Dask worker.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: Mapping[str, str] | None = None,
        max_attempts: int = 5,
        checksums: bool = False,
    ) -> None:
        creds = s3client.check_credentials(credentials)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.settings = S3Settings(endpoint_url, region, creds or None, max(1, max_attempts),
                                   checksums)
        self.url = f"s3://{bucket}/{self.prefix}"
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, endpoint_url={self.settings.endpoint_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> Any:
        """The boto3 client, built on first use (botocore retries on: this is a batch job)."""
        if self._client is None:
            s = self.settings
            self._client = s3client.make_client(s.client_options(), s.credentials)
        return self._client

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        ))
        while (page := self._guard("list", prefix, lambda: next(pages, None))) is not None:
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self.prefix):]
                yield ObjectInfo(key, int(obj["Size"]), str(obj["ETag"]).strip('"'))

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        def listing() -> builtins.list[str]:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix, Delimiter="/"
            )
            found = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
            return sorted(p[len(self.prefix):] for p in found)

        return self._guard("list", prefix, listing)

    def get(self, key: str) -> bytes:
        def fetch() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
            return bytes(response["Body"].read())

        return self._guard("read", key, fetch)

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> bool:
        extra: dict[str, str] = {"IfNoneMatch": "*"} if create_only else {}
        if self.settings.checksums:
            digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
            extra.update(ChecksumAlgorithm="SHA256", ChecksumSHA256=digest)
        try:
            self._guard("write", key, lambda: self.client.put_object(
                Bucket=self.bucket, Key=self._full(key), Body=data, **extra))
        except _PreconditionFailed:
            return False
        return True

    def exists(self, key: str) -> bool:
        try:
            self._guard("check", key, lambda: self.client.head_object(
                Bucket=self.bucket, Key=self._full(key)))
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._guard("delete", key, lambda: self.client.delete_object(
            Bucket=self.bucket, Key=self._full(key)))

    def copy(self, src: str, dst: str) -> None:
        source = {"Bucket": self.bucket, "Key": self._full(src)}
        self._guard("copy", src, lambda: self.client.copy_object(
            Bucket=self.bucket, Key=self._full(dst), CopySource=source))

    def move(self, src: str, dst: str) -> None:
        self.copy(src, dst)
        self.delete(src)

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        s = self.settings
        creds = _resolved_credentials(s)
        options: dict[str, Any] = {"region": s.region or "us-east-1"}
        if s.endpoint_url:
            parts = urlsplit(s.endpoint_url)
            options.update(endpoint_override=parts.netloc, scheme=parts.scheme or "https")
        if creds:
            options.update(access_key=creds["access_key_id"],
                           secret_key=creds["secret_access_key"],
                           session_token=creds.get("session_token"))
        return pafs.S3FileSystem(**options), f"{self.bucket}/{self.prefix}".rstrip("/")

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _guard(self, op: str, key: str, fn: Callable[[], T]) -> T:
        """Run ``fn``, translating botocore errors into the store's error tree."""
        from botocore import exceptions as bce

        try:
            return fn()
        except (bce.ClientError, bce.BotoCoreError) as exc:
            raise _store_error(self, op, key, classify(exc)) from exc


class _PreconditionFailed(StoreError):
    """A create-only write found the key taken (HTTP 412); ``put`` turns it into False."""


def _store_error(store: S3Store, op: str, key: str, found: Classified) -> StoreError:
    """A classified botocore error (``objectstore.s3errors``), worded for a batch job."""
    where = f"{store.url}: cannot {op} {key!r}"
    if found.kind is Kind.NOT_FOUND:
        return ObjectNotFound(f"{store.url}: no object {key!r}")
    if found.kind is Kind.KEY_EXISTS:
        return _PreconditionFailed(f"{where}: it exists already")
    if found.kind is Kind.UNREACHABLE:
        return StoreError(f"{where}: cannot reach S3 at {store.settings.endpoint_url or 'AWS'} "
                          f"({found.message}): check the endpoint and the network")
    if found.kind is Kind.NO_CREDENTIALS:
        return StoreError(f"{store.url}: no S3 credentials: set AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY, or a profile or role")
    if found.code == "NoSuchBucket":
        return StoreError(f"{where}: bucket {store.bucket!r} does not exist: check --store")
    if found.setup is Setup.CREDENTIALS:
        return StoreError(f"{where}: access denied ({found.code}): check the credentials and "
                          "that they may read, write and list this bucket")
    return StoreError(f"{where}: {found.code}: {found.message}")


def _resolved_credentials(settings: S3Settings) -> dict[str, str]:
    """The credentials boto3 would use, so pyarrow reads with exactly the same identity."""
    if settings.credentials:
        return dict(settings.credentials)
    found = s3client.make_session(settings.client_options()).get_credentials()
    if found is None:
        return {}
    frozen = found.get_frozen_credentials()
    creds = {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key}
    return {**creds, "session_token": frozen.token} if frozen.token else creds


# -- opening a store ----------------------------------------------------------------------


def open_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> LocalStore | S3Store:
    """Open ``s3://bucket/prefix``, ``file:///path`` or a plain path (S3 options apply to S3)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not 3 <= len(parts.netloc) <= 63:
            raise StoreError(f"store {url!r} is not like s3://BUCKET/PREFIX")
        return S3Store(parts.netloc, parts.path, endpoint_url, region, credentials)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreError(f"store {url!r} is not like file:///absolute/path")
        return LocalStore(unquote(parts.path))
    if parts.scheme:
        raise StoreError(f"store {url!r}: use s3://bucket/prefix, file:///path or a path")
    return LocalStore(url)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--store`` options every lake command shares."""
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help="the lake: s3://bucket/prefix, file:///path or a folder "
                             f"(default {DEFAULT_STORE})")
    parser.add_argument("--endpoint-url", default=None,
                        help="S3-compatible endpoint, e.g. http://127.0.0.1:8333 "
                             "(credentials come from the usual AWS variables or profile)")
    parser.add_argument("--region", default=None, help="S3 region")


def store_from_args(args: argparse.Namespace) -> LocalStore | S3Store:
    """The store named by ``add_store_arguments``' options."""
    return open_store(args.store, endpoint_url=args.endpoint_url, region=args.region)
