"""Object keys and the local layout: one rule for the device and the cloud.

A key is a relative, '/'-separated path whose segments never start with a dot, so a local
folder can keep its own state in dot-folders (``LOCAL_FOLDERS``) that no key can reach or
name, and every store (folder or bucket) accepts the same keys.
"""

from __future__ import annotations

import re

MAX_KEY_LENGTH = 1024  # S3's limit, in bytes of UTF-8; keys here are ASCII
TMP = ".tmp"  # temp files of create-only writes, on the objects' filesystem
META = ".meta"  # the device's sidecars: content type and metadata per object
MULTIPART = ".multipart"  # the device's unfinished multipart uploads
LOCAL_FOLDERS = (TMP, META, MULTIPART)

_SEGMENT = re.compile(r"[A-Za-z0-9_=+@,;:()!~-][A-Za-z0-9._=+@,;:()!~-]*")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``ValueError``.

    No empty, ``.`` or ``..`` segments, no leading dot in a segment (local stores keep
    their own state in dot-folders), no backslashes, spaces or control characters, at
    most 1024 characters.
    """
    if not key or len(key) > MAX_KEY_LENGTH or not all(
        _SEGMENT.fullmatch(s) for s in key.split("/")
    ):
        raise ValueError(
            f"object key {key!r} is not a safe relative key: it is not a relative path of "
            "'/'-separated segments of letters, digits and '._=+@,;:()!~-', none empty or "
            f"starting with '.', at most {MAX_KEY_LENGTH} characters (like 'raw/x/1.json')"
        )
    return key


def is_local_state(name: str) -> bool:
    """Whether a file or folder name in a local store is the store's own, not an object.

    Every name starting with a dot: keys cannot start a segment with one (``check_key``),
    so besides ``LOCAL_FOLDERS`` this also covers hidden temp files of atomic replaces.
    """
    return name.startswith(".")
