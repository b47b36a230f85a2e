"""Where a lake is: a pyarrow filesystem and the root path the lake's keys hang under.

Every reader of the curated lake accepts the same ways of naming it: a folder, a
``file://`` or ``s3://`` URL (``pyarrow.fs.FileSystem.from_uri``: credentials from the usual
AWS variables, an endpoint from ``?endpoint_override=host:port``), a ``(filesystem, root)``
pair, or a lake store (``cloudjobs.store``: anything with ``arrow_fs()``, which reads with
exactly the credentials boto3 resolved). A lake that is not there is said at once, as a
``LakeError``, instead of reading as an empty lake.
"""

from __future__ import annotations

import os
from typing import Protocol

import pyarrow as pa
import pyarrow.fs as pafs

from cloudjobs.lake.errors import LakeError


class ArrowStore(Protocol):
    """A lake store (``cloudjobs.store``): hands out a pyarrow filesystem on its objects and
    the path that key ``""`` maps to."""

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]: ...


Location = str | os.PathLike[str] | tuple[pafs.FileSystem, str] | ArrowStore
"""A folder, a ``file://``/``s3://`` URL, a ``(filesystem, root)`` pair or a lake store."""


def resolve_location(location: Location) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, root)`` of a lake; ``LakeError`` saying what to check if it is not there.

    A local root is made absolute (``~`` expanded); any other root loses its trailing ``/``.
    """
    if isinstance(location, tuple):
        fs, root = location
    elif not isinstance(location, str | os.PathLike):
        fs, root = location.arrow_fs()
    elif "://" in (text := os.fspath(location)):
        fs, root = _from_uri(text)
    else:
        fs, root = pafs.LocalFileSystem(), os.path.expanduser(text)
    if isinstance(fs, pafs.LocalFileSystem):
        return fs, _local_root(root)
    _check_bucket(fs, root)
    return fs, root.rstrip("/")


def _from_uri(text: str) -> tuple[pafs.FileSystem, str]:
    try:
        fs, root = pafs.FileSystem.from_uri(text)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LakeError(
            f"cannot open the lake at {text!r} ({exc}): give a folder, a file:// URL or an "
            "s3://bucket/prefix URL pyarrow understands, and check the credentials"
        ) from exc
    return fs, root


def _local_root(root: str) -> str:
    """The absolute folder; a missing one is a setup problem (wrong path, disk not mounted)."""
    folder = os.path.abspath(root)
    if not os.path.isdir(folder):
        raise LakeError(
            f"the lake folder {folder} does not exist: check --store (the folder that holds "
            "curated/, file:///path or s3://bucket/prefix) and that the disk is mounted; "
            "`cloudjobs ingest` (or `fieldagent demo`) creates it"
        )
    return folder


def _check_bucket(fs: pafs.FileSystem, root: str) -> None:
    """A missing bucket is a wrong URL or credentials, not an empty lake: say so."""
    bucket = root.strip("/").split("/", 1)[0]
    try:
        found = fs.get_file_info(bucket).type != pafs.FileType.NotFound
    except OSError as exc:
        raise LakeError(
            f"cannot reach bucket {bucket!r} of the lake: {exc}; check the endpoint and "
            "the credentials"
        ) from exc
    if not found:
        raise LakeError(
            f"bucket {bucket!r} of the lake does not exist (or these credentials cannot "
            "see it): check --store"
        )


def describe(fs: pafs.FileSystem, root: str) -> str:
    """Where the lake is, for people: the folder, or ``s3://bucket/prefix``."""
    kind = getattr(fs, "type_name", "")
    return root if kind == "local" else f"{kind}://{root}"
