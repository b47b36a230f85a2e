"""One alert transition (raised or resolved) as it is uploaded: ``raw/alert/...json``.

On the wire: ``site, camera, zone`` (``-`` = the whole camera), ``rule, state, severity,
what, why`` (the figures that made it fire), ``at`` (this transition), ``since`` (the
episode's start), ``message``, ``key`` (the episode: the same for its raised and resolved)
and, for a raised alert with a picture, ``evidence`` (the evidence image's object key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from fieldcontract.errors import ContractError
from fieldcontract.records import values as v
from fieldcontract.version import CONTRACT_VERSION

_REQUIRED = ("camera", "zone", "rule", "state", "severity", "at", "since", "key")
_FIELDS = frozenset({*_REQUIRED, "v", "site", "what", "why", "message", "evidence"})


@dataclass(frozen=True)
class AlertRecord:
    """One alert transition; its identity is the episode ``key`` and the ``state``."""

    VERSION: ClassVar[int] = CONTRACT_VERSION.major

    site: str | None
    camera: str
    zone: str
    rule: str
    state: str
    severity: str
    what: str | None
    why: Mapping[str, Any]
    at: datetime
    since: datetime
    message: str | None
    key: str
    evidence: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def identity(self) -> str:
        """SHA-256 hex of the transition (episode and state), not of its wording: the same
        transition sent again, after a crash or by a retry, gets the same object key."""
        return hashlib.sha256(f"{self.key}|{self.state}".encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The document (``evidence`` only when there is one)."""
        doc = {**self.extra, "site": self.site, "camera": self.camera, "zone": self.zone,
               "rule": self.rule, "state": self.state, "severity": self.severity,
               "what": self.what, "why": dict(self.why), "at": v.iso(self.at),
               "since": v.iso(self.since), "message": self.message, "key": self.key}
        return doc if self.evidence is None else {**doc, "evidence": self.evidence}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AlertRecord:
        """Read an alert; ``ContractError`` names every missing field."""
        v.major(doc, "v", "alert")
        if missing := [k for k in _REQUIRED if doc.get(k) in (None, "")]:
            raise ContractError(f"not an alert: missing {', '.join(missing)}")
        why = doc.get("why") or {}
        if not isinstance(why, dict):
            raise ContractError(f"'why' is {why!r}, not an object of figures")
        return cls(
            site=v.opt_text(doc.get("site")), camera=v.text(doc, "camera"),
            zone=v.text(doc, "zone"), rule=v.text(doc, "rule"), state=v.text(doc, "state"),
            severity=v.text(doc, "severity"), what=v.opt_text(doc.get("what")), why=why,
            at=v.time(doc, "at"), since=v.time(doc, "since"),
            message=v.opt_text(doc.get("message")), key=v.text(doc, "key"),
            evidence=v.opt_text(doc.get("evidence")), extra=v.extra(doc, _FIELDS),
        )
