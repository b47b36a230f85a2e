"""The object key scheme: one definition that builds every key a device uploads and parses it.

    raw/<kind>/site=<site>/date=<YYYY-MM-DD>/[camera=<camera>/]<HHMMSS>-<digest16><suffix>

* ``date`` and ``HHMMSS`` are the UTC capture time: partitions line up across sites in
  different time zones and the cloud jobs can prune by ``site=`` and ``date=`` (Hive style).
* ``digest16`` is the first 16 hex digits of the SHA-256 of the object's content (or of its
  identity, for alerts: see ``AlertRecord.identity``). The key is therefore a pure function of
  what is sent: a retry after a crash lands on the same key, and with create-only writes it
  can neither duplicate nor overwrite an object (two different contents share a key only by
  a 64-bit hash collision).
* Names are checked here, at the point of use, so a bad site or camera id can never produce
  a key that another site's key could collide with or that breaks the partition layout.

The kinds a device sends today are the constants below; a new kind is a compatible (minor)
change: the lake lists it as unknown and leaves it alone until it learns to read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from fieldcontract.errors import ContractError

RAW = "raw/"

SIGNALS = "signals"
"""Signal batches (``fieldcontract.batch``): image and zone records."""
IMAGE = "image"
"""Sampled images (random, uncertain, daily reference), JPEG."""
EVIDENCE = "evidence"
"""An alert's evidence image (crop of the zone or the frame), JPEG."""
ALERT = "alert"
"""One alert transition, JSON (``AlertRecord``)."""
HEARTBEAT = "heartbeat"
"""The device's periodic report on itself, JSON (``Heartbeat``)."""
MODEL_REPORT = "model-report"
"""What the model updater did, JSON (``ModelReport``)."""

KINDS = (SIGNALS, IMAGE, EVIDENCE, ALERT, HEARTBEAT, MODEL_REPORT)
IMAGE_KINDS = (IMAGE, EVIDENCE)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
"""A site, camera or device id (``check_name``); the cloud's own keys reuse it."""
_KIND = r"[a-z][a-z0-9_-]{0,31}"
_SUFFIX = r"(?:\.[a-z0-9]{1,12}){1,3}"
_DIGEST = r"[0-9a-f]{16,64}"
_RAW_KEY = re.compile(
    rf"raw/(?P<kind>{_KIND})/site=(?P<site>{NAME_PATTERN})/"
    rf"date=(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/(?:camera=(?P<camera>{NAME_PATTERN})/)?"
    rf"(?P<hms>\d{{6}})-(?P<digest>[0-9a-f]{{16}})(?P<suffix>{_SUFFIX})"
)
_SCHEME = ("raw/<kind>/site=<site>/date=<YYYY-MM-DD>/[camera=<camera>/]"
           "<HHMMSS>-<digest16><suffix>")


def check_name(field: str, value: str) -> str:
    """Return ``value`` if it can be a site or camera id in a key, else raise ``ContractError``.

    Lower-case letters, digits, ``-`` and ``_``, 1 to 64 characters, starting with a letter
    or digit: no ``/``, ``=`` or ``.`` that would break the partition layout, and no case
    variants that S3 would keep apart but a person would not. The config can call this to
    refuse a bad id at start instead of at the first upload.
    """
    if not re.fullmatch(NAME_PATTERN, value):
        raise ContractError(
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
        What the object is (``signals``, ``image``, ``evidence``, ``heartbeat`` ...).
    site, camera
        Ids checked with ``check_name``; ``camera`` is left out for site-wide objects.
    when
        Timezone-aware capture or creation time; converted to UTC.
    digest
        The SHA-256 hex digest of the content (at least its first 16 hex digits).
    suffix
        The file extension including its dot(s), e.g. ``.jpg`` or ``.json.gz``.
    """
    if not re.fullmatch(_KIND, kind):
        raise ContractError(
            f"kind {kind!r} cannot be used in an object key: use 1-32 lower-case letters, "
            "digits, '-' or '_', starting with a letter"
        )
    check_name("site", site)
    if camera is not None:
        check_name("camera", camera)
    if when.tzinfo is None or when.utcoffset() is None:
        raise ContractError(f"time {when.isoformat()} has no time zone: pass an aware datetime")
    if not re.fullmatch(_DIGEST, digest):
        raise ContractError(f"digest {digest!r} is not a lower-case SHA-256 hex digest")
    if not re.fullmatch(_SUFFIX, suffix):
        raise ContractError(f"suffix {suffix!r} is not like '.jpg' or '.json.gz'")
    utc = when.astimezone(UTC)
    camera_part = f"camera={camera}/" if camera is not None else ""
    return (
        f"{RAW}{kind}/site={site}/date={utc:%Y-%m-%d}/{camera_part}"
        f"{utc:%H%M%S}-{digest[:16]}{suffix}"
    )


@dataclass(frozen=True)
class RawKey:
    """The parts of a raw object key, as ``object_key`` put them together."""

    key: str
    kind: str
    site: str
    date: str
    camera: str | None
    hms: str
    digest: str
    suffix: str

    @property
    def when(self) -> datetime:
        """The UTC time the key carries (capture or creation time, to the second)."""
        return datetime.strptime(f"{self.date}T{self.hms}", "%Y-%m-%dT%H%M%S").replace(tzinfo=UTC)

    @property
    def is_image(self) -> bool:
        """An uploaded picture (sample or evidence) that a person or a trainer can open."""
        return self.kind in IMAGE_KINDS and self.suffix.endswith(IMAGE_SUFFIXES)


def parse_raw_key(key: str) -> RawKey:
    """Split a raw key into its parts; ``ContractError`` (saying why) if it is not one."""
    m = _RAW_KEY.fullmatch(key)
    if m is None:
        raise ContractError(f"key {key!r} is not in the raw key scheme {_SCHEME}")
    raw = RawKey(key, m["kind"], m["site"], m["date"], m["camera"], m["hms"], m["digest"],
                 m["suffix"])
    try:
        raw.when  # noqa: B018 - validates the date and time fields
    except ValueError as exc:
        raise ContractError(f"key {key!r} carries an impossible date or time ({exc})") from exc
    return raw


def kind_prefix(kind: str) -> str:
    """Where every site's objects of one kind live: ``raw/<kind>/``."""
    return f"{RAW}{kind}/"


def site_prefix(kind: str, site: str) -> str:
    """Where one site's objects of one kind live: ``raw/<kind>/site=<site>/``."""
    return f"{kind_prefix(kind)}site={site}/"
