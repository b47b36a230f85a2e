"""The object key scheme: a contract with the cloud side.

    raw/<kind>/site=<site>/date=<YYYY-MM-DD>/[camera=<camera>/]<HHMMSS>-<digest16><suffix>

* ``date`` and ``HHMMSS`` are the UTC capture time: partitions line up across sites in
  different time zones and the cloud jobs can prune by ``site=`` and ``date=`` (Hive style).
* ``digest16`` is the first 16 hex digits of the SHA-256 of the object's content. The key
  is therefore a pure function of what is sent: a retry after a crash lands on the same key,
  and with create-only writes it can neither duplicate nor overwrite an object (two different
  contents share a key only by a 64-bit hash collision).
* Names are checked here, at the point of use, so a bad site or camera id can never produce
  a key that another site's key could collide with or that breaks the partition layout.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_SUFFIX = re.compile(r"(\.[a-z0-9]{1,12}){1,3}")
_HEX = re.compile(r"[0-9a-f]{16,64}")


def check_name(field: str, value: str) -> str:
    """Return ``value`` if it can be a site or camera id in a key, else raise ``ValueError``.

    Lower-case letters, digits, ``-`` and ``_``, 1 to 64 characters, starting with a letter
    or digit: no ``/``, ``=`` or ``.`` that would break the partition layout, and no case
    variants that S3 would keep apart but a person would not. The config can call this to
    refuse a bad id at start instead of at the first upload.
    """
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{field} {value!r} cannot be used in an object key: use 1-64 lower-case "
            "letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


def object_key(
    kind: str,
    site: str,
    when: datetime,
    digest: str,
    *,
    suffix: str,
    camera: str | None = None,
) -> str:
    """Build the deterministic, content-derived key of one object.

    Parameters
    ----------
    kind
        What the object is (``signals``, ``image``, ``crop``, ``heartbeat`` ...).
    site, camera
        Ids checked with ``check_name``; ``camera`` is left out for site-wide objects.
    when
        Timezone-aware capture or creation time; converted to UTC.
    digest
        The SHA-256 hex digest of the content (at least its first 16 hex digits).
    suffix
        The file extension including its dot(s), e.g. ``.jpg`` or ``.json.gz``.
    """
    if not _KIND.fullmatch(kind):
        raise ValueError(
            f"kind {kind!r} cannot be used in an object key: use 1-32 lower-case letters, "
            "digits, '-' or '_', starting with a letter"
        )
    check_name("site", site)
    if camera is not None:
        check_name("camera", camera)
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"time {when.isoformat()} has no time zone: pass an aware datetime")
    if not _HEX.fullmatch(digest):
        raise ValueError(f"digest {digest!r} is not a lower-case SHA-256 hex digest")
    if not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"suffix {suffix!r} is not like '.jpg' or '.json.gz'")
    utc = when.astimezone(UTC)
    camera_part = f"camera={camera}/" if camera is not None else ""
    return (
        f"raw/{kind}/site={site}/date={utc:%Y-%m-%d}/{camera_part}"
        f"{utc:%H%M%S}-{digest[:16]}{suffix}"
    )
