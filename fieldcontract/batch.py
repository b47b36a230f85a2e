"""The signal batch object: many records in one compressed upload that loses nothing.

* Body: NDJSON (UTF-8, ``\\n`` after every line), compressed as ``ndjson+gzip`` (RFC 1952,
  mtime 0) or ``ndjson+zstd`` (zstandard frame with content size). The first bytes tell
  which (``1f 8b`` / ``28 b5 2f fd``), so a reader needs no metadata.
* Line 1 is the header (:class:`BatchHeader`): ``"type": "batch_header"``,
  ``schema_version`` (the contract major, see ``fieldcontract.version``), ``site``, ``kind``
  (``"signals"``), ``count`` (records that follow), ``first_ts`` / ``last_ts`` (ISO 8601 UTC,
  the earliest and latest record time), ``format``. Lines 2..count+1 are the records, one
  canonical JSON object each (:func:`encode_line`: keys sorted, no whitespace).
* Key: ``raw/signals/site=<site>/date=<first_ts UTC date>/<HHMMSS>-<digest16>.ndjson.gz``
  (or ``.ndjson.zst``), where the digest is the SHA-256 of the *uncompressed* NDJSON: a
  batch rebuilt after a crash gets the same key even if the compressor changed.
* The header fields are also sent as S3 user metadata (``x-amz-meta-count`` ...) so a reader
  can route an object without downloading it; the header line is authoritative.

The records themselves are ``fieldcontract.records`` (``ImageRecord``, ``ZoneRecord``), but
the format carries any JSON object: the batch does not judge its lines, the reader does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fieldcontract import keys
from fieldcontract.errors import ContractError
from fieldcontract.records import values as v
from fieldcontract.version import CONTRACT_VERSION

HEADER_TYPE = "batch_header"
BatchFormat = Literal["ndjson+gzip", "ndjson+zstd"]
FORMATS: tuple[BatchFormat, ...] = ("ndjson+gzip", "ndjson+zstd")
SUFFIX: Mapping[str, str] = {"ndjson+gzip": ".ndjson.gz", "ndjson+zstd": ".ndjson.zst"}
CONTENT_TYPE: Mapping[str, str] = {"ndjson+gzip": "application/gzip",
                                   "ndjson+zstd": "application/zstd"}
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class BatchHeader:
    """The first line of a batch: what follows and where it belongs."""

    site: str
    count: int
    first_ts: datetime
    last_ts: datetime
    format: str
    schema_version: int = CONTRACT_VERSION.major
    kind: str = keys.SIGNALS

    def to_json(self) -> dict[str, Any]:
        return {"type": HEADER_TYPE, "schema_version": self.schema_version, "site": self.site,
                "kind": self.kind, "count": self.count, "first_ts": self.first_ts.isoformat(),
                "last_ts": self.last_ts.isoformat(), "format": self.format}

    def object_metadata(self) -> dict[str, str]:
        """The header as S3 user metadata (``first-ts``, ``count`` ...)."""
        return {k.replace("_", "-"): str(val) for k, val in self.to_json().items()
                if k != "type"}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BatchHeader:
        count = doc.get("count")
        if doc.get("type") != HEADER_TYPE or not isinstance(count, int):
            raise ContractError(f"not a batch header: {dict(doc)!r:.200}")
        version = v.major(doc, "schema_version", "signal batch schema_version")
        return cls(site=v.text(doc, "site"), count=count, first_ts=v.time(doc, "first_ts"),
                   last_ts=v.time(doc, "last_ts"), format=v.text(doc, "format"),
                   schema_version=version, kind=v.text(doc, "kind"))


@dataclass(frozen=True)
class BatchObject:
    """One batch as it is uploaded: key, compressed body and what S3 is told about it."""

    header: BatchHeader
    key: str
    data: bytes
    content_type: str
    metadata: dict[str, str]


def encode_line(record: Mapping[str, Any]) -> str:
    """The canonical JSON line of one record; ``ValueError`` if it is not JSON-able."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=_json_default)


def write_batch(site: str, lines: Sequence[str], times: Sequence[datetime],
                fmt: str) -> BatchObject:
    """The batch object of record ``lines`` (from :func:`encode_line`) timed by ``times``
    (aware, one per line): a pure function of them, so it is rebuilt byte for byte."""
    if not lines or len(lines) != len(times):
        raise ContractError(f"a batch needs one time per record line ({len(lines)} lines, "
                            f"{len(times)} times) and at least one line")
    if fmt not in SUFFIX:
        raise ContractError(f"batch format {fmt!r} is not one of {list(FORMATS)}")
    header = BatchHeader(site=keys.check_name("site", site), count=len(lines),
                         first_ts=min(times), last_ts=max(times), format=fmt)
    text = "".join(line + "\n" for line in [encode_line(header.to_json()), *lines])
    raw = text.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    key = keys.object_key(keys.SIGNALS, site, header.first_ts, digest, suffix=SUFFIX[fmt])
    return BatchObject(header, key, compress(raw, fmt), CONTENT_TYPE[fmt],
                       header.object_metadata())


def compress(raw: bytes, fmt: str) -> bytes:
    """Deterministic compression (fixed mtime and level) of the NDJSON text.

    Maximum levels: a batch is at most a few hundred KB every few minutes, so the CPU cost
    is small, and on a metered link bytes cost money. On signal records of 33 per batch,
    zstd level 19 is ~27% smaller than gzip level 6.
    """
    if fmt == "ndjson+gzip":
        return gzip.compress(raw, compresslevel=9, mtime=0)
    import zstandard  # optional: only sites whose policy asks for zstd need it

    return bytes(zstandard.ZstdCompressor(level=19, write_content_size=True).compress(raw))


def decompress(body: bytes) -> bytes:
    """The NDJSON text of a batch body, whichever compression its first bytes announce."""
    if body[:4] == _ZSTD_MAGIC:
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompress(body))
    if body[:2] == _GZIP_MAGIC:
        return gzip.decompress(body)
    raise ContractError("not a signal batch: neither gzip nor zstd data")


def read_batch(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Decode a batch object into (header, records) as JSON objects; ``ValueError`` if it is
    not one or is cut short. The records are not judged here (``read_signal_record`` does)."""
    lines = decompress(body).decode("utf-8").split("\n")  # not splitlines(): a record may
    if lines[-1] == "":  # hold U+2028 or U+0085 unescaped (ensure_ascii=False), and those
        lines.pop()  # split a line there
    header = json.loads(lines[0]) if lines else {}
    if (not isinstance(header, dict) or header.get("type") != HEADER_TYPE
            or header.get("count") != len(lines) - 1):
        raise ContractError(f"not a signal batch or truncated: header {header!r:.200}, "
                            f"{len(lines) - 1} record lines")
    return header, [json.loads(line) for line in lines[1:]]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
