"""The heartbeat: one small JSON document a device uploads every interval.

The cloud fleet job reads these to tell which devices are silent, behind, full, hot or on
which model, so the field names below are the contract: keep them stable, add new ones
(a minor), never rename; a changed meaning is a new major. Every key is always present
(null or an empty map when a figure is unknown), so the cloud side never guesses whether
a key was forgotten or a figure was missing. Times are ISO-8601 UTC strings; durations
are seconds (``_s``), latencies milliseconds (``_ms``), sizes bytes. The cloud lake
flattens nested maps into columns (``outbox_items_by_kind_image``) and its fleet table
reads ``outbox_items``, ``outbox_oldest_age_s`` and ``disk_free_bytes`` as numbers: a
figure the fleet job compares is a scalar, its breakdown a separate ``_by_`` map.

Fields
------
``schema_version``            int, 1: the contract major of this document's layout
``kind``                      always ``"heartbeat"``
``site``                      site id
``device``                    device id (host name or the inventory name)
``at``                        when the heartbeat was built
``agent_version``             fieldagent version
``model_version``             version of the loaded stress model; null without a model
``started_at``                when the agent started
``uptime_s``                  seconds since the agent started
``system_uptime_s``           seconds since the device booted; null when unreadable
``interval_started_at``       start of the interval the ``*_interval`` fields count
``interval_s``                length of that interval (normally the heartbeat interval)
``images_total``              ``{camera: {status: n}}`` images handled since start (ok, rejected)
``images_interval``           the same, since the previous heartbeat
``rejected_total``            ``{reason: n}`` rejected images since start by reason
``camera_last_image_age_s``   ``{camera: s}`` seconds since each camera's last image
``quality_checked_interval``  analysed (status ok) images since the previous heartbeat
``quality_fail_rate``         ``{flag: fraction}`` of those images that raised each quality
                              flag; every flag is listed; null values when none was analysed
``quality_fail_total``        ``{flag: n}`` images that raised each flag since start
``latency_p50_ms``            median model stage time per image over the recent window
``latency_p95_ms``            95th percentile of the same; both null before the first run
``latency_samples``           model runs in the recent window
``latency_baseline_p95_ms``   p95 of the first runs after start or a model switch
                              (``telemetry.latency_baseline_runs``); null until they ran
``model_outputs_total``       model outputs (one per zone) since start
``drift_psi``                 confidence drift: population stability index of the recent
                              top-class probabilities against the reference (0 = same;
                              > 0.25 significant); null until both windows are full
``drift_reference_n``         outputs in the drift reference window
``drift_recent_n``            outputs in the recent window
``confidence_mean_reference`` mean top-class probability of the reference window
``confidence_mean_recent``    the same over the recent window
``entropy_mean_reference``    mean normalised entropy (0 sure .. 1 lost) of the reference
``entropy_mean_recent``       the same over the recent window
``outbox_items``              items waiting (ready or being sent), all kinds
``outbox_items_by_kind``      ``{kind: n}`` the same by kind
``outbox_bytes_by_kind``      ``{kind: bytes}`` payload bytes waiting by kind
``outbox_total_bytes``        payload bytes waiting, all kinds (what the caps apply to)
``outbox_oldest_age_s``       age of the oldest waiting item of any kind; null when empty
``outbox_disk_bytes``         what the outbox occupies on disk (database, WAL, spool)
``outbox_drops``              ``{reason: n}`` items that left without delivery, by reason
``outbox_last_success_at``    last delivery; null when none yet
``uplink_link_state``         circuit breaker: ``closed`` (link up), ``open``, ``half_open``
``uplink_down_since``         when the link went down; null while up
``uplink_rate_bytes_per_s``   measured upload rate; null until enough transfers
``uplink_degrade_level``      image offload degrade level (0 = full sampling)
``uplink_last_problem``       the last alert-worthy uplink problem, in words; null if none
``disk_total_bytes``          size of the data disk
``disk_free_bytes``           free bytes on the data disk
``disk_free_fraction``        free / total
``cpu_temp_c``                CPU temperature in deg C; null without a readable sensor
``load_1m``                   load average over 1 minute
``load_5m``                   load average over 5 minutes
``load_15m``                  load average over 15 minutes
``rss_bytes``                 resident memory of the agent process
``alerts_active``             alerts currently raised (grower and self-alerts)
``alerts_enabled``            false when the site config turned every alert off
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from fieldcontract.errors import ContractError
from fieldcontract.records import values as v
from fieldcontract.version import CONTRACT_VERSION

Number = v.Number
Reader = Callable[[Mapping[str, Any], str], Any]

_READERS: dict[str, Reader] = {
    "datetime": v.time,
    "datetime | None": v.opt_time,
    "str | None": lambda doc, key: v.opt_text(doc.get(key)),
    "Number | None": lambda doc, key: v.number(doc.get(key), key),
    "bool | None": lambda doc, key: v.opt_bool(doc.get(key)),
    "Mapping": lambda doc, key: v.obj(doc.get(key), key),
}
"""How a field is read, by its declared type (a map's inside is left open)."""


def _reader(annotation: object) -> Reader:
    text = str(annotation)
    return _READERS["Mapping" if text.startswith("Mapping[") else text]


@dataclass(frozen=True)
class Heartbeat:
    """One heartbeat (the module docstring says what each field means)."""

    KIND: ClassVar[str] = "heartbeat"
    VERSION: ClassVar[int] = CONTRACT_VERSION.major

    at: datetime
    site: str | None = None
    device: str | None = None
    agent_version: str | None = None
    model_version: str | None = None
    started_at: datetime | None = None
    uptime_s: Number | None = None
    system_uptime_s: Number | None = None
    interval_started_at: datetime | None = None
    interval_s: Number | None = None
    images_total: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    images_interval: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    rejected_total: Mapping[str, int] = field(default_factory=dict)
    camera_last_image_age_s: Mapping[str, Number] = field(default_factory=dict)
    quality_checked_interval: Number | None = None
    quality_fail_rate: Mapping[str, Number | None] = field(default_factory=dict)
    quality_fail_total: Mapping[str, int] = field(default_factory=dict)
    latency_p50_ms: Number | None = None
    latency_p95_ms: Number | None = None
    latency_samples: Number | None = None
    latency_baseline_p95_ms: Number | None = None
    model_outputs_total: Number | None = None
    drift_psi: Number | None = None
    drift_reference_n: Number | None = None
    drift_recent_n: Number | None = None
    confidence_mean_reference: Number | None = None
    confidence_mean_recent: Number | None = None
    entropy_mean_reference: Number | None = None
    entropy_mean_recent: Number | None = None
    outbox_items: Number | None = None
    outbox_items_by_kind: Mapping[str, int] = field(default_factory=dict)
    outbox_bytes_by_kind: Mapping[str, int] = field(default_factory=dict)
    outbox_total_bytes: Number | None = None
    outbox_oldest_age_s: Number | None = None
    outbox_disk_bytes: Number | None = None
    outbox_drops: Mapping[str, int] = field(default_factory=dict)
    outbox_last_success_at: datetime | None = None
    uplink_link_state: str | None = None
    uplink_down_since: datetime | None = None
    uplink_rate_bytes_per_s: Number | None = None
    uplink_degrade_level: Number | None = None
    uplink_last_problem: str | None = None
    disk_total_bytes: Number | None = None
    disk_free_bytes: Number | None = None
    disk_free_fraction: Number | None = None
    cpu_temp_c: Number | None = None
    load_1m: Number | None = None
    load_5m: Number | None = None
    load_15m: Number | None = None
    rss_bytes: Number | None = None
    alerts_active: Number | None = None
    alerts_enabled: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The document: every field, null or empty when unknown."""
        doc: dict[str, Any] = {**self.extra, "schema_version": self.VERSION, "kind": self.KIND}
        for f in fields(self):
            if f.name != "extra":
                doc[f.name] = _wire(getattr(self, f.name))
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Heartbeat:
        """Read a heartbeat; only ``at`` is required (older agents sent fewer figures)."""
        if "at" not in doc:
            raise ContractError("not a heartbeat: no 'at' time")
        v.major(doc, "schema_version", "heartbeat")
        values = {f.name: _reader(f.type)(doc, f.name) for f in fields(cls)
                  if f.name != "extra" and f.name in doc}
        return cls(**values, extra=v.extra(doc, FIELDS))


FIELDS = frozenset({"schema_version", "kind", *(f.name for f in fields(Heartbeat))}) - {"extra"}
"""Every field name a heartbeat of this major has."""


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value
