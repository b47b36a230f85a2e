"""What a device's model updater did (installed, refused, committed, rolled back ...):
``raw/model-report/...json``.

On the wire: ``kind`` (``"model_report"``), ``event``, ``version`` (the release it is
about), ``reason`` (a short code such as ``bad_signature`` or ``too_slow``; null when none),
``message`` (a sentence for people), ``site``, ``device``, ``agent_version``,
``running_version`` (the model that runs after the event) and ``at``; every other field is a
figure of the event (``boots``, the trial's ``error_rate`` ...), kept in ``figures``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from fieldcontract.errors import ContractError
from fieldcontract.records import values as v
from fieldcontract.version import CONTRACT_VERSION

_TEXT = ("event", "version", "reason", "message", "site", "device", "agent_version",
         "running_version")
_FIELDS = frozenset({*_TEXT, "kind", "v", "at"})


@dataclass(frozen=True)
class ModelReport:
    """One model updater event of one device."""

    KIND: ClassVar[str] = "model_report"
    VERSION: ClassVar[int] = CONTRACT_VERSION.major

    at: datetime
    event: str | None = None
    version: str | None = None
    reason: str | None = None
    message: str | None = None
    site: str | None = None
    device: str | None = None
    agent_version: str | None = None
    running_version: str | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The document: the fixed fields (null when unknown), then the event's figures."""
        return {"kind": self.KIND, "event": self.event, "version": self.version,
                "reason": self.reason, "message": self.message, "site": self.site,
                "device": self.device, "agent_version": self.agent_version,
                "running_version": self.running_version, "at": v.iso(self.at),
                **self.figures}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ModelReport:
        """Read a model report; only ``at`` is required."""
        if "at" not in doc:
            raise ContractError("not a model report: no 'at' time")
        v.major(doc, "v", "model report")
        return cls(at=v.time(doc, "at"), **{k: v.opt_text(doc.get(k)) for k in _TEXT},
                   figures=v.extra(doc, _FIELDS))
