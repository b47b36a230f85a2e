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

Keys, the batch format and the records are read with the agents' own definitions
(``fieldcontract``); this module only turns records into rows and columns. A batch whose
``schema_version`` has no reader here (``fieldcontract.version.READABLE_MAJORS``) is set
aside whole, never half-read.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudjobs.lake.layout import day_of
from cloudjobs.lake.schema import SPECS, column_name
from fieldcontract import keys
from fieldcontract.batch import read_batch
from fieldcontract.errors import ContractError
from fieldcontract.keys import RawKey
from fieldcontract.records import (
    AlertRecord,
    Heartbeat,
    ImageRecord,
    ModelReport,
    ZoneRecord,
    decode_document,
    read_signal_record,
)
from fieldcontract.version import READABLE_MAJORS

BODYLESS_KINDS = frozenset(keys.IMAGE_KINDS)
Number = int | float


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
    try:
        return parser(raw, body)
    except ContractError as exc:  # the contract's reader said what is wrong with it
        raise Malformed(str(exc)) from exc


# -- signal batches ---------------------------------------------------------------------


def _signals(raw: RawKey, body: bytes) -> Parsed:
    try:
        header, records = read_batch(body)
    except (ValueError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise Malformed(f"not a readable signal batch: {exc}") from exc
    version = header.get("schema_version")
    if version not in READABLE_MAJORS:
        raise Malformed(f"signal batch schema_version {version!r} is not supported "
                        f"(this ingest reads {sorted(READABLE_MAJORS)}); "
                        "it stays in raw/ (a copy is in rejected/) for an ingest that can read it")
    if header.get("site") != raw.site:
        raise Malformed(f"the batch header names site {header.get('site')!r} but the key "
                        f"is under site={raw.site}")
    out = Parsed()
    for number, record in enumerate(records, start=1):
        try:
            _record(record, raw.key, out)
        except (ValueError, KeyError, TypeError) as exc:  # Malformed, ContractError ...
            raise Malformed(f"record {number} of {len(records)}: {exc}") from exc
    return out


def _record(doc: Any, batch_key: str, out: Parsed) -> None:
    record = read_signal_record(doc)
    if isinstance(record, ZoneRecord):
        values = _zone(record)
        dataset = "signals"
    else:
        values = _image_record(record, out)
        dataset = "quality"
    values["batch_key"] = batch_key
    out.rows.append(Row(dataset, day_of(values["ts"]), values))


def _zone(r: ZoneRecord) -> dict[str, Any]:
    model = r.model
    values: dict[str, Any] = {
        "ts": r.ts, "camera": r.camera, "zone": r.id, "trusted": r.trusted,
        "flags": list(r.flags),
        "model_label": model.label if model else None,
        "model_confidence": _float(model.confidence) if model else None,
        "model_entropy": _float(model.entropy) if model else None,
        "model_version": model.model_version if model else None,
        "image_sha256": r.image_sha256, "file": r.file,
    }
    values.update(_open_numbers(r.signals, "signals", "", SPECS["signals"].fixed))
    return values


def _image_record(r: ImageRecord, out: Parsed) -> dict[str, Any]:
    shift = r.shift_px or (None, None)
    size = r.size or (None, None)
    sample = r.sample
    values: dict[str, Any] = {
        "ts": r.ts, "camera": r.camera, "status": r.status, "reason": r.reason, "ok": r.ok,
        "flags": list(r.flags),
        "shift_x": _float(shift[0]), "shift_y": _float(shift[1]),
        "width": _int(size[0]), "height": _int(size[1]),
        "sample_key": sample.key if sample else None,
        "sample_reason": sample.reason if sample else None,
        "image_sha256": r.image_sha256, "file": r.file,
    }
    values.update(_open_numbers(r.metrics, "metrics", "q_", SPECS["quality"].fixed))
    if sample is not None and sample.key:
        out.samples[sample.key] = (sample.reason, sample.mode)
    return values


# -- JSON documents ---------------------------------------------------------------------


def _document(raw: RawKey, body: bytes, what: str) -> dict[str, Any]:
    doc = decode_document(body, what)
    if "site" in doc and doc["site"] != raw.site:
        raise Malformed(f"the document names site {doc['site']!r} but the key is under "
                        f"site={raw.site}")
    return doc


def _alert(raw: RawKey, body: bytes) -> Parsed:
    alert = AlertRecord.from_json(_document(raw, body, "an alert"))
    values = {
        "at": alert.at, "since": alert.since, "camera": alert.camera, "zone": alert.zone,
        "rule": alert.rule, "state": alert.state, "severity": alert.severity,
        "what": alert.what, "message": alert.message, "episode": alert.key,
        "evidence_key": alert.evidence,
        "why": json.dumps(alert.why, sort_keys=True), "object_key": raw.key,
    }
    return Parsed([Row("alerts", day_of(alert.at), values)])


def _heartbeat(raw: RawKey, body: bytes) -> Parsed:
    doc = _document(raw, body, "a heartbeat")
    beat = Heartbeat.from_json(doc)
    values: dict[str, Any] = {
        "at": beat.at, "device": beat.device, "agent_version": beat.agent_version,
        "model_version": beat.model_version,
        "raw": json.dumps(doc, sort_keys=True), "object_key": raw.key,
    }
    fixed = SPECS["heartbeats"].fixed - {"uptime_s"}
    values.update(_flatten(doc, "", fixed))
    return Parsed([Row("heartbeats", day_of(beat.at), values)])


def _model_report(raw: RawKey, body: bytes) -> Parsed:
    doc = _document(raw, body, "a model report")
    report = ModelReport.from_json(doc)
    values = {
        "at": report.at, "event": report.event, "version": report.version,
        "reason": report.reason, "raw": json.dumps(doc, sort_keys=True), "object_key": raw.key,
    }
    return Parsed([Row("model_reports", day_of(report.at), values)])


def _image(raw: RawKey, size: int) -> Parsed:
    values = {
        "ts": raw.when, "camera": raw.camera, "kind": raw.kind, "key": raw.key,
        "reason": "alert_evidence" if raw.kind == keys.EVIDENCE else None, "mode": None,
        "bytes": size,
    }
    return Parsed([Row("images", raw.date, values)])


PARSERS: dict[str, Callable[[RawKey, bytes], Parsed]] = {
    keys.SIGNALS: _signals,
    keys.ALERT: _alert,
    keys.HEARTBEAT: _heartbeat,
    keys.MODEL_REPORT: _model_report,
}
"""Raw kinds whose content is read."""

KNOWN_KINDS = frozenset(PARSERS) | BODYLESS_KINDS
"""Raw kinds this ingest turns into rows; other kinds under ``raw/`` are left alone."""


# -- values -----------------------------------------------------------------------------


def _float(value: Number | None) -> float | None:
    return None if value is None else float(value)


def _int(value: Number | None) -> int | None:
    return None if value is None else int(value)


def _open_numbers(
    values: Mapping[str, Number | None], what: str, prefix: str, fixed: frozenset[str]
) -> dict[str, float | None]:
    """``{name: number}`` as open-ended columns (``prefix + name``)."""
    out: dict[str, float | None] = {}
    for name, value in values.items():
        column = column_name(str(name), prefix)
        if column is None or column in fixed:
            raise Malformed(f"{what} name {name!r} cannot be a column name")
        out[column] = _float(value)
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
