"""Raw objects to curated rows, one object at a time, all or nothing.

An object either yields all its rows or raises :class:`Malformed` with a sentence saying
what is wrong with it; the ingest then sets it aside (``rejected/``) and goes on. A signal
batch with one bad record is rejected whole: half a batch in the lake would look complete.

What each raw kind becomes (docs/lake.md):

* ``signals`` batches: one ``signals`` row per zone record, one ``quality`` row per image
  record (records without ``type`` that have ``id`` and ``signals`` are zone records);
* ``alert`` JSON: one ``alerts`` row; ``heartbeat`` JSON: one ``heartbeats`` row;
  ``model-report`` JSON: one ``model_reports`` row;
* ``image`` and ``evidence`` JPEGs: one ``images`` row each, from the key and the listed
  size, without downloading the image.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudjobs.lake.layout import RawKey, day_of
from cloudjobs.lake.schema import SPECS, column_name
from fieldagent.outbox.batching import read_batch

SUPPORTED_BATCH_VERSIONS = frozenset({1})
"""Signal batch ``schema_version`` values this ingest understands; others are rejected
(kept in ``rejected/``) until the ingest learns them, never half-read."""

SUPPORTED_RECORD_VERSIONS = frozenset({1})
BODYLESS_KINDS = frozenset({"image", "evidence"})


class Malformed(ValueError):
    """The object cannot be read as its kind; the message says why (for ``reason.json``)."""


@dataclass(frozen=True)
class Row:
    """One curated row and the partition it belongs to (its own UTC date)."""

    dataset: str
    date: str
    values: dict[str, Any]


@dataclass
class Parsed:
    """Rows from one object, plus what image samples its records named (key -> reason,
    mode), so the ``images`` rows of the same run can say why an image was kept."""

    rows: list[Row] = field(default_factory=list)
    samples: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


def parse_object(raw: RawKey, body: bytes | None, size: int) -> Parsed:
    """Rows of one raw object (``body`` is None for image kinds, which are not read)."""
    if raw.kind in BODYLESS_KINDS:
        return _image(raw, size)
    parser = PARSERS.get(raw.kind)
    if parser is None:
        raise Malformed(f"raw kind {raw.kind!r} is not one this ingest knows")
    if body is None:
        raise Malformed("the object's content was not read")
    return parser(raw, body)


# -- signal batches ---------------------------------------------------------------------


def _signals(raw: RawKey, body: bytes) -> Parsed:
    try:
        header, records = read_batch(body)
    except (ValueError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise Malformed(f"not a readable signal batch: {exc}") from exc
    version = header.get("schema_version")
    if version not in SUPPORTED_BATCH_VERSIONS:
        raise Malformed(f"signal batch schema_version {version!r} is not supported "
                        f"(this ingest reads {sorted(SUPPORTED_BATCH_VERSIONS)}); "
                        "it stays in raw/ (a copy is in rejected/) for an ingest that can read it")
    if header.get("site") != raw.site:
        raise Malformed(f"the batch header names site {header.get('site')!r} but the key "
                        f"is under site={raw.site}")
    out = Parsed()
    for number, record in enumerate(records, start=1):
        try:
            _record(record, raw.key, out)
        except (Malformed, KeyError, TypeError, ValueError) as exc:
            raise Malformed(f"record {number} of {len(records)}: {_describe(exc)}") from exc
    return out


def _record(record: Any, batch_key: str, out: Parsed) -> None:
    if not isinstance(record, dict):
        raise Malformed("not a JSON object")
    kind = record.get("type") or ("zone" if "id" in record and "signals" in record else None)
    if record.get("v", 1) not in SUPPORTED_RECORD_VERSIONS:
        raise Malformed(f"record version v={record.get('v')!r} is not supported")
    if kind == "zone":
        values = _zone(record)
        dataset = "signals"
    elif kind == "image":
        values = _image_record(record, out)
        dataset = "quality"
    else:
        raise Malformed(f"neither an image nor a zone record (type {kind!r})")
    values["batch_key"] = batch_key
    out.rows.append(Row(dataset, day_of(values["ts"]), values))


def _zone(r: Mapping[str, Any]) -> dict[str, Any]:
    model = r.get("model") or {}
    if not isinstance(model, dict):
        raise Malformed("'model' is not an object")
    values: dict[str, Any] = {
        "ts": _time(r, "ts"), "camera": _text(r, "camera"), "zone": _text(r, "id"),
        "trusted": _bool(r.get("trusted")), "flags": _flags(r.get("flags")),
        "model_label": _opt_text(model.get("label")),
        "model_confidence": _number(model.get("confidence"), "model.confidence"),
        "model_entropy": _number(model.get("entropy"), "model.entropy"),
        "model_version": _opt_text(model.get("model_version")),
        **_image_ref(r),
    }
    values.update(_open_numbers(r.get("signals"), "signals", "", SPECS["signals"].fixed))
    return values


def _image_record(r: Mapping[str, Any], out: Parsed) -> dict[str, Any]:
    shift = r.get("shift_px") or [None, None]
    size = r.get("size") or [None, None]
    sample = r.get("sample") or {}
    if not (isinstance(shift, list) and isinstance(size, list) and isinstance(sample, dict)):
        raise Malformed("'shift_px', 'size' or 'sample' has the wrong shape")
    values: dict[str, Any] = {
        "ts": _time(r, "ts"), "camera": _text(r, "camera"), "status": _text(r, "status"),
        "reason": _opt_text(r.get("reason")), "ok": _bool(r.get("ok")),
        "flags": _flags(r.get("flags")),
        "shift_x": _number(shift[0], "shift_px"), "shift_y": _number(shift[1], "shift_px"),
        "width": _int(size[0], "size"), "height": _int(size[1], "size"),
        "sample_key": _opt_text(sample.get("key")),
        "sample_reason": _opt_text(sample.get("reason")),
        **_image_ref(r),
    }
    values.update(_open_numbers(r.get("metrics"), "metrics", "q_", SPECS["quality"].fixed))
    if values["sample_key"]:
        out.samples[values["sample_key"]] = (values["sample_reason"],
                                             _opt_text(sample.get("mode")))
    return values


def _image_ref(r: Mapping[str, Any]) -> dict[str, Any]:
    """Which image a record came from (agents before 0.2 did not say: null)."""
    return {"image_sha256": _opt_text(r.get("image_sha256")), "file": _opt_text(r.get("file"))}


# -- JSON documents ---------------------------------------------------------------------


def _document(raw: RawKey, body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"not JSON ({exc}), so not {what}") from exc
    if not isinstance(doc, dict):
        raise Malformed(f"JSON {type(doc).__name__}, not an object, so not {what}")
    if "site" in doc and doc["site"] != raw.site:
        raise Malformed(f"the document names site {doc['site']!r} but the key is under "
                        f"site={raw.site}")
    return doc


_ALERT_FIELDS = ("camera", "zone", "rule", "state", "severity", "at", "since", "key")


def _alert(raw: RawKey, body: bytes) -> Parsed:
    doc = _document(raw, body, "an alert")
    if missing := [k for k in _ALERT_FIELDS if doc.get(k) in (None, "")]:
        raise Malformed(f"not an alert: missing {', '.join(missing)}")
    why = doc.get("why") or {}
    at = _time(doc, "at")
    values = {
        "at": at, "since": _time(doc, "since"), "camera": _text(doc, "camera"),
        "zone": _text(doc, "zone"), "rule": _text(doc, "rule"), "state": _text(doc, "state"),
        "severity": _text(doc, "severity"), "what": _opt_text(doc.get("what")),
        "message": _opt_text(doc.get("message")), "episode": _text(doc, "key"),
        "evidence_key": _opt_text(doc.get("evidence")),
        "why": json.dumps(why, sort_keys=True), "object_key": raw.key,
    }
    return Parsed([Row("alerts", day_of(at), values)])


_HEARTBEAT_TEXT = ("device", "agent_version", "model_version")


def _heartbeat(raw: RawKey, body: bytes) -> Parsed:
    doc = _document(raw, body, "a heartbeat")
    if "at" not in doc:
        raise Malformed("not a heartbeat: no 'at' time")
    values: dict[str, Any] = {
        "at": _time(doc, "at"), **{k: _opt_text(doc.get(k)) for k in _HEARTBEAT_TEXT},
        "raw": json.dumps(doc, sort_keys=True), "object_key": raw.key,
    }
    fixed = SPECS["heartbeats"].fixed - {"uptime_s"}
    values.update(_flatten(doc, "", fixed))
    return Parsed([Row("heartbeats", day_of(values["at"]), values)])


def _model_report(raw: RawKey, body: bytes) -> Parsed:
    doc = _document(raw, body, "a model report")
    if "at" not in doc:
        raise Malformed("not a model report: no 'at' time")
    at = _time(doc, "at")
    values = {
        "at": at, "event": _opt_text(doc.get("event")),
        "version": _opt_text(doc.get("version")), "reason": _opt_text(doc.get("reason")),
        "raw": json.dumps(doc, sort_keys=True), "object_key": raw.key,
    }
    return Parsed([Row("model_reports", day_of(at), values)])


def _image(raw: RawKey, size: int) -> Parsed:
    values = {
        "ts": raw.when, "camera": raw.camera, "kind": raw.kind, "key": raw.key,
        "reason": "alert_evidence" if raw.kind == "evidence" else None, "mode": None,
        "bytes": size,
    }
    return Parsed([Row("images", raw.date, values)])


PARSERS: dict[str, Callable[[RawKey, bytes], Parsed]] = {
    "signals": _signals,
    "alert": _alert,
    "heartbeat": _heartbeat,
    "model-report": _model_report,
}
"""Raw kinds whose content is read."""

KNOWN_KINDS = frozenset(PARSERS) | BODYLESS_KINDS
"""Raw kinds this ingest turns into rows; other kinds under ``raw/`` are left alone."""


# -- values -----------------------------------------------------------------------------


def _time(doc: Mapping[str, Any], key: str) -> datetime:
    value = doc.get(key)
    if not isinstance(value, str):
        raise Malformed(f"{key!r} is {value!r}, not an ISO 8601 time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Malformed(f"{key!r} is {value!r}, not an ISO 8601 time") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{key!r} is {value!r}, not a non-empty string")
    return value


def _opt_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise Malformed(f"{value!r} is not true or false")


def _flags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Malformed(f"flags {value!r} is not a list of names")
    return value


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{what} value {value!r} is not a number")
    return float(value) if math.isfinite(value) else None


def _int(value: Any, what: str) -> int | None:
    number = _number(value, what)
    return None if number is None else int(number)


def _open_numbers(
    values: Any, what: str, prefix: str, fixed: frozenset[str]
) -> dict[str, float | None]:
    """``{name: number}`` as open-ended columns (``prefix + name``)."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise Malformed(f"{what!r} is not an object of name: number")
    out: dict[str, float | None] = {}
    for name, value in values.items():
        column = column_name(str(name), prefix)
        if column is None or column in fixed:
            raise Malformed(f"{what} name {name!r} cannot be a column name")
        out[column] = _number(value, f"{what}.{name}")
    return out


def _flatten(doc: Mapping[str, Any], prefix: str, fixed: frozenset[str]) -> dict[str, float]:
    """Numbers anywhere in the document, nested names joined with ``_`` (booleans are not
    numbers here; names that are not usable columns stay in ``raw`` only)."""
    out: dict[str, float] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            for k, v in _flatten(value, f"{name}_", fixed).items():
                out.setdefault(k, v)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            column = column_name(name)
            if column and column not in fixed and math.isfinite(value):
                out.setdefault(column, float(value))
    return out


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc)
