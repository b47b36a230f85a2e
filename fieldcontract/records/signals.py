"""The records inside a signal batch: one ``image`` record per analysed image, then one
``zone`` record per region of it.

On the wire (one JSON object per batch line, keys sorted)::

    {"type": "image", "v": 1, "ts": ..., "camera": ..., "status": "ok" | "rejected",
     "image_sha256": ..., "file": ...,                         # agents from 0.2 on
     "reason": ..., "message": ...,                            # an image not analysed
     "ok": ..., "flags": [...], "metrics": {...}, "shift_px": [x, y], "size": [w, h],
     "alerts": [...], "sample": {"key", "reason", "mode"}}     # an analysed image
    {"type": "zone", "v": 1, "ts": ..., "camera": ..., "id": ..., "bbox": [x0, y0, x1, y1],
     "trusted": ..., "flags": [...], "signals": {name: number|null},
     "model": {"label", "confidence", "probabilities", "entropy", "model_version",
               "top_class", "ood_score", "may_override"} | null, "image_sha256", "file"}

An image's records name it by content (``image_sha256``): a repeat is recognisable anywhere.
A line without ``type`` that has ``id`` and ``signals`` is a zone record of an agent that
wrote neither types nor versions (read as major 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from fieldcontract.errors import ContractError
from fieldcontract.records import values as v
from fieldcontract.version import CONTRACT_VERSION

Number = v.Number


@dataclass(frozen=True)
class SampleRef:
    """The image an image record's sample was uploaded as, and why it was kept."""

    key: str | None
    reason: str | None = None
    mode: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "key": self.key, "reason": self.reason, "mode": self.mode}

    @classmethod
    def from_json(cls, doc: Any) -> SampleRef | None:
        if doc is None or doc == {}:
            return None
        if not isinstance(doc, dict):
            raise ContractError("'sample' is not an object")
        return cls(v.opt_text(doc.get("key")), v.opt_text(doc.get("reason")),
                   v.opt_text(doc.get("mode")), v.extra(doc, _SAMPLE_FIELDS))


@dataclass(frozen=True)
class ModelOutputRecord:
    """What the stress model said about one zone (rounded as the device sends it)."""

    label: str | None
    confidence: Number | None
    entropy: Number | None
    model_version: str | None
    probabilities: Mapping[str, Number | None] = field(default_factory=dict)
    top_class: str | None = None
    ood_score: Number | None = None
    may_override: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "label": self.label, "confidence": self.confidence,
                "probabilities": dict(self.probabilities), "entropy": self.entropy,
                "model_version": self.model_version, "top_class": self.top_class,
                "ood_score": self.ood_score, "may_override": self.may_override}

    @classmethod
    def from_json(cls, doc: Any) -> ModelOutputRecord | None:
        if doc is None or doc == {}:
            return None
        if not isinstance(doc, dict):
            raise ContractError("'model' is not an object")
        return cls(
            label=v.opt_text(doc.get("label")),
            confidence=v.number(doc.get("confidence"), "model.confidence"),
            entropy=v.number(doc.get("entropy"), "model.entropy"),
            model_version=v.opt_text(doc.get("model_version")),
            probabilities=v.numbers(doc.get("probabilities"), "model.probabilities"),
            top_class=v.opt_text(doc.get("top_class")),
            ood_score=v.number(doc.get("ood_score"), "model.ood_score"),
            may_override=v.opt_bool(doc.get("may_override")),
            extra=v.extra(doc, _MODEL_FIELDS),
        )


def _named(image_sha256: str | None, file: str | None) -> dict[str, Any]:
    """The image a record came from, when the agent said (agents before 0.2 did not)."""
    named = {} if image_sha256 is None else {"image_sha256": image_sha256}
    return named if file is None else {**named, "file": file}


@dataclass(frozen=True)
class ImageRecord:
    """One camera image: whether it could be analysed, its quality, the sample kept of it.

    ``ok`` is None for an image that was not analysed (then ``reason`` and ``message`` say
    why); otherwise the quality fields describe it.
    """

    TYPE: ClassVar[str] = "image"
    VERSION: ClassVar[int] = CONTRACT_VERSION.major

    ts: datetime
    camera: str
    status: str
    image_sha256: str | None = None
    file: str | None = None
    reason: str | None = None
    message: str | None = None
    ok: bool | None = None
    flags: tuple[str, ...] = ()
    metrics: Mapping[str, Number | None] = field(default_factory=dict)
    shift_px: tuple[Number | None, Number | None] | None = None
    size: tuple[Number | None, Number | None] | None = None
    alerts: tuple[str, ...] = ()
    sample: SampleRef | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The batch line's object (before canonical encoding)."""
        doc: dict[str, Any] = {**self.extra, "type": self.TYPE, "v": self.VERSION,
                               "ts": v.iso(self.ts), "camera": self.camera,
                               "status": self.status,
                               **_named(self.image_sha256, self.file)}
        if self.ok is None or self.reason is not None or self.message is not None:
            doc.update(reason=self.reason, message=self.message)
        if self.ok is not None:
            doc.update(ok=self.ok, flags=list(self.flags), metrics=dict(self.metrics),
                       alerts=list(self.alerts))
            if self.shift_px is not None:
                doc["shift_px"] = list(self.shift_px)
            if self.size is not None:
                doc["size"] = list(self.size)
        if self.sample is not None:
            doc["sample"] = self.sample.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ImageRecord:
        """Read one image record; ``ContractError`` says which field is wrong."""
        v.major(doc, "v", "image record")
        return cls(
            ts=v.time(doc, "ts"), camera=v.text(doc, "camera"), status=v.text(doc, "status"),
            image_sha256=v.opt_text(doc.get("image_sha256")),
            file=v.opt_text(doc.get("file")),
            reason=v.opt_text(doc.get("reason")), message=v.opt_text(doc.get("message")),
            ok=v.opt_bool(doc.get("ok")), flags=v.names(doc.get("flags"), "flags"),
            metrics=v.numbers(doc.get("metrics"), "metrics"),
            shift_px=v.pair(doc.get("shift_px"), "shift_px"),
            size=v.pair(doc.get("size"), "size"),
            alerts=v.names(doc.get("alerts"), "alerts"),
            sample=SampleRef.from_json(doc.get("sample")),
            extra=v.extra(doc, _IMAGE_FIELDS),
        )


@dataclass(frozen=True)
class ZoneRecord:
    """One region of one image: where it is, its signals, what the model said."""

    TYPE: ClassVar[str] = "zone"
    VERSION: ClassVar[int] = CONTRACT_VERSION.major

    ts: datetime
    camera: str
    id: str
    bbox: tuple[Number | None, ...] | None = None
    trusted: bool | None = None
    flags: tuple[str, ...] = ()
    signals: Mapping[str, Number | None] = field(default_factory=dict)
    model: ModelOutputRecord | None = None
    image_sha256: str | None = None
    file: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The batch line's object (before canonical encoding)."""
        return {**self.extra, "type": self.TYPE, "v": self.VERSION, "ts": v.iso(self.ts),
                "camera": self.camera, **_named(self.image_sha256, self.file), "id": self.id,
                "bbox": None if self.bbox is None else list(self.bbox),
                "trusted": self.trusted, "flags": list(self.flags),
                "signals": dict(self.signals),
                "model": None if self.model is None else self.model.to_json()}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ZoneRecord:
        """Read one zone record; ``ContractError`` says which field is wrong."""
        v.major(doc, "v", "zone record")
        bbox = doc.get("bbox")
        if bbox is not None and not isinstance(bbox, list):
            raise ContractError(f"'bbox' is {bbox!r}, not a list of numbers")
        return cls(
            ts=v.time(doc, "ts"), camera=v.text(doc, "camera"), id=v.text(doc, "id"),
            bbox=None if bbox is None else tuple(v.number(x, "bbox") for x in bbox),
            trusted=v.opt_bool(doc.get("trusted")), flags=v.names(doc.get("flags"), "flags"),
            signals=v.numbers(doc.get("signals"), "signals"),
            model=ModelOutputRecord.from_json(doc.get("model")),
            image_sha256=v.opt_text(doc.get("image_sha256")),
            file=v.opt_text(doc.get("file")),
            extra=v.extra(doc, _ZONE_FIELDS),
        )


SignalRecord = ImageRecord | ZoneRecord

_SAMPLE_FIELDS = frozenset({"key", "reason", "mode"})
_MODEL_FIELDS = frozenset({"label", "confidence", "probabilities", "entropy", "model_version",
                           "top_class", "ood_score", "may_override"})
_COMMON = frozenset({"type", "v", "ts", "camera", "image_sha256", "file"})
_IMAGE_FIELDS = _COMMON | {"status", "reason", "message", "ok", "flags", "metrics", "shift_px",
                           "size", "alerts", "sample"}
_ZONE_FIELDS = _COMMON | {"id", "bbox", "trusted", "flags", "signals", "model"}


def record_type(doc: Mapping[str, Any]) -> str | None:
    """``image``, ``zone`` or what else the line says it is (None: it does not say)."""
    kind = doc.get("type")
    if kind:
        return str(kind)
    return ZoneRecord.TYPE if "id" in doc and "signals" in doc else None


def read_signal_record(doc: Any) -> SignalRecord:
    """One line of a signal batch as its record; ``ContractError`` if it is neither kind."""
    if not isinstance(doc, dict):
        raise ContractError("not a JSON object")
    kind = record_type(doc)
    if kind == ZoneRecord.TYPE:
        return ZoneRecord.from_json(doc)
    if kind == ImageRecord.TYPE:
        return ImageRecord.from_json(doc)
    v.major(doc, "v", "record")  # a record of an unknown major says so, not "unknown type"
    raise ContractError(f"neither an image nor a zone record (type {kind!r})")
