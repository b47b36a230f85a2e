"""The offload policy: what the agent keeps, what it sends, when, and how fast.

One YAML file per policy (``policies/*.yaml``), validated like the site config: unknown keys
refused, every field with a default, a range and a description. Sizes, rates and durations are
written with units ("50MB", "20KB/s", "30d") and held here as bytes, bytes/s and seconds.
Cross-field rules live in :mod:`fieldagent.policy.checks`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from fieldagent.config.base import Section
from fieldagent.policy.checks import run_checks
from fieldagent.policy.units import (
    DurationIn,
    RateIn,
    SizeIn,
    check_clock,
    check_window,
    duration,
    size,
)
from fieldcontract.batch import BatchFormat

KINDS = ("alert", "signals", "heartbeat", "model_report", "image")
Kind = Literal["alert", "signals", "heartbeat", "model_report", "image"]
WhenFull = Literal["reject_new", "drop_oldest", "thin"]
ImageMode = Literal["frame", "crop", "thumbnail"]

Window = Annotated[str, AfterValidator(check_window)]
Clock = Annotated[str, AfterValidator(check_clock)]
# In files these are written with units ("2MB", "10m", "1Mbit/s") or as plain numbers: the
# JSON Schema for editors says so (json_schema_input_type).
_UNITS = str | int | float
ClassBytes = Annotated[int, BeforeValidator(SizeIn("0B", "10TB"), json_schema_input_type=_UNITS)]
TotalBytes = Annotated[int, BeforeValidator(SizeIn("1MB", "10TB"), json_schema_input_type=_UNITS)]
BudgetBytes = Annotated[int, BeforeValidator(SizeIn("100KB", "10TB"),
                                             json_schema_input_type=_UNITS)]
BatchBytes = Annotated[int, BeforeValidator(SizeIn("1KB", "64MB"), json_schema_input_type=_UNITS)]
ByteRate = Annotated[float, BeforeValidator(RateIn("100B/s", "10GB/s"),
                                            json_schema_input_type=_UNITS)]
Retention = Annotated[float, BeforeValidator(DurationIn("1m", "400d"),
                                             json_schema_input_type=_UNITS)]
Horizon = Annotated[float, BeforeValidator(DurationIn("10m", "30d"),
                                           json_schema_input_type=_UNITS)]
Interval = Annotated[float, BeforeValidator(DurationIn("1s", "7d"), json_schema_input_type=_UNITS)]


class ClassPolicy(Section):
    """How one kind of outbox item is kept and sent. Defaults depend on the kind (see
    ``CLASS_DEFAULTS``); a policy file only needs the keys it changes."""

    priority: int = Field(5, ge=0, le=9, description="send order; 0 is the most urgent")
    upload: bool = Field(True, description="false keeps items on the device only")
    retention: Retention = Field(duration("7d"), description="items older than this expire")
    max_bytes: ClassBytes | None = Field(None, description="disk cap for this kind (null: total)")
    when_full: WhenFull = Field("drop_oldest", description="what the outbox does at the cap")
    thin_every: int = Field(
        2, ge=2, le=100, description="with when_full: thin, evict every Nth oldest item (2: most)"
    )
    rate: ByteRate | None = Field(None, description="upload rate cap for this kind, e.g. 20KB/s")
    windows: list[Window] = Field([], description="local HH:MM-HH:MM upload windows; [] = always")
    budget_share: float | None = Field(
        None, gt=0.0, le=1.0, description="most of the daily budget this kind may use (0..1)"
    )
    budget_exempt: bool = Field(False, description="sent even when the daily budget is spent")


CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "alert": {"priority": 0, "retention": "30d", "max_bytes": "50MB", "when_full": "reject_new",
              "budget_exempt": True},
    "signals": {"priority": 1, "retention": "30d", "max_bytes": "200MB", "when_full": "thin"},
    "heartbeat": {"priority": 2, "retention": "2d", "max_bytes": "10MB"},
    "model_report": {"priority": 3, "retention": "14d", "max_bytes": "50MB"},
    "image": {"priority": 4, "retention": "7d", "max_bytes": "1GB", "when_full": "thin"},
}


def _class_field(kind: str) -> Any:
    return Field(default_factory=lambda: ClassPolicy(**CLASS_DEFAULTS[kind]),
                 description=f"the {kind} class")


class Classes(Section):
    """One entry per outbox kind. Keys given in the file override that kind's defaults."""

    alert: ClassPolicy = _class_field("alert")
    signals: ClassPolicy = _class_field("signals")
    heartbeat: ClassPolicy = _class_field("heartbeat")
    model_report: ClassPolicy = _class_field("model_report")
    image: ClassPolicy = _class_field("image")

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """A partial class entry starts from that kind's defaults, not the generic ones."""
        if not isinstance(data, dict):
            return data
        return {k: {**CLASS_DEFAULTS[k], **v} if k in CLASS_DEFAULTS and isinstance(v, dict)
                else v for k, v in data.items()}


class RampPolicy(Section):
    """After a reconnect, start below the rate caps so a waking backlog does not flood the link."""

    start_fraction: float = Field(0.25, gt=0.0, le=1.0, description="share of the caps at first")
    over: Interval = Field(duration("5m"), description="time to climb linearly to the full caps")


class LinkPolicy(Section):
    """Link-wide limits: disk, speed, money, patience."""

    total_max_bytes: TotalBytes = Field(size("2GB"), description="disk cap of the whole outbox")
    rate: ByteRate | None = Field(None, description="total upload rate cap (null: none)")
    daily_budget: BudgetBytes | None = Field(None, description="bytes per local day (metered)")
    ramp: RampPolicy | None = Field(None, description="gentle start after reconnect (null: none)")
    horizon: Horizon = Field(
        duration("24h"), description="longest acceptable backlog drain before degrading"
    )


class BatchingPolicy(Section):
    """Signal records are sent in batches; a batch closes at whichever limit comes first."""

    max_records: int = Field(1000, ge=1, le=100_000, description="records per batch")
    max_bytes: BatchBytes = Field(size("256KB"), description="uncompressed bytes per batch")
    max_age: Interval = Field(duration("15m"), description="batch closes at this record age")
    format: BatchFormat = Field("ndjson+gzip", description="encoding")


class EvidencePolicy(Section):
    """The image that shows the grower's problem zone; it travels with its alert."""

    enabled: bool = Field(True, description="keep every alert's evidence image")
    mode: ImageMode = Field("crop", description="frame, crop of the zone, or thumbnail")
    jpeg_quality: int = Field(85, ge=20, le=95, description="JPEG quality of the evidence")


class UncertainPolicy(Section):
    """Hard examples: the model was unsure, so a label from an agronomist teaches it most."""

    enabled: bool = Field(True, description="keep images the model was unsure about")
    top_prob_below: float | None = Field(
        0.5, ge=0.0, le=1.0, description="unsure when the top class probability is below this"
    )
    entropy_above: float | None = Field(
        0.8, ge=0.0, le=1.0, description="unsure when the normalised entropy is above this"
    )


class ReferencePolicy(Section):
    """One reference image per camera per local day, for growth curves and drift checks."""

    enabled: bool = Field(True, description="keep a daily reference image per camera")
    at: Clock = Field("12:00", description="local time; the first image at or after it is kept")
    mode: ImageMode = Field("frame", description="frame, crop or thumbnail")
    jpeg_quality: int = Field(85, ge=20, le=95, description="JPEG quality of the reference")


class SamplingPolicy(Section):
    """Which images are kept for upload. Quotas are per camera and count random and
    uncertain samples; alert evidence and daily references are bounded by nature and exempt."""

    mode: ImageMode = Field("frame", description="what random/uncertain samples keep")
    jpeg_quality: int = Field(80, ge=20, le=95, description="JPEG quality of samples")
    thumbnail_side: int = Field(320, ge=64, le=2048, description="long side of thumbnails, px")
    frame_max_side: int | None = Field(
        None, ge=320, le=20_000,
        description="long side of whole-frame samples, px (scaled down); null = as captured",
    )
    random_share: float = Field(0.02, ge=0.0, le=1.0, description="share kept at random")
    quota_per_hour: int = Field(12, ge=0, le=10_000, description="samples per camera per hour")
    quota_per_day: int = Field(150, ge=0, le=100_000, description="samples per camera per day")
    alert_evidence: EvidencePolicy = Field(default_factory=EvidencePolicy, description="evidence")
    uncertain: UncertainPolicy = Field(default_factory=UncertainPolicy, description="hard cases")
    daily_reference: ReferencePolicy = Field(
        default_factory=ReferencePolicy, description="daily reference images"
    )


class LowerSampling(Section):
    """Keep fewer random samples."""

    step: Literal["lower_sampling"] = "lower_sampling"
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="multiplies random_share")


class CropsOnly(Section):
    """Keep crops of the zones instead of whole frames."""

    step: Literal["crops_only"] = "crops_only"


class Thumbnails(Section):
    """Keep thumbnails instead of crops or frames."""

    step: Literal["thumbnails"] = "thumbnails"


class LowerJpegQuality(Section):
    """Encode kept images at a lower JPEG quality."""

    step: Literal["lower_jpeg_quality"] = "lower_jpeg_quality"
    quality: int = Field(60, ge=20, le=95, description="JPEG quality while this step is active")


class EssentialOnly(Section):
    """Stop random and uncertain samples; keep alert evidence and daily references."""

    step: Literal["essential_only"] = "essential_only"


Step = Annotated[
    LowerSampling | CropsOnly | Thumbnails | LowerJpegQuality | EssentialOnly,
    Field(discriminator="step"),
]
STEP_NAMES = ("lower_sampling", "crops_only", "thumbnails", "lower_jpeg_quality", "essential_only")


def _bare_step(value: Any) -> Any:
    """Allow '- crops_only' as shorthand for '- {step: crops_only}'."""
    return {"step": value} if isinstance(value, str) else value


def _default_ladder() -> list[LowerSampling | CropsOnly | Thumbnails | LowerJpegQuality
                             | EssentialOnly]:
    """Steps that save bytes whatever the sampling modes are."""
    return [LowerSampling(), EssentialOnly()]


class DegradePolicy(Section):
    """The ladder climbed, one rung at a time, while the backlog cannot drain within the
    horizon at the measured rate; climbed down again once it drains comfortably."""

    ladder: list[Annotated[Step, BeforeValidator(
        _bare_step, json_schema_input_type=Step | Literal[
            "lower_sampling", "crops_only", "thumbnails", "lower_jpeg_quality",
            "essential_only"])]] = Field(
        default_factory=_default_ladder,
        description="steps in the order they are taken",
    )
    step_up_after: Interval = Field(duration("30m"), description="least time between two steps up")
    recover_after: Interval = Field(duration("2h"), description="calm time before a step down")


class Policy(Section):
    """A whole offload policy (``policies/<name>.yaml``)."""

    version: Literal[1] = Field(1, description="policy schema version")
    name: str = Field("custom", min_length=1, max_length=64, description="policy name")
    description: str = Field("", max_length=1000, description="what this policy is for")
    link: LinkPolicy = Field(default_factory=LinkPolicy, description="link-wide limits")
    classes: Classes = Field(default_factory=Classes, description="per-kind rules")
    batching: BatchingPolicy = Field(default_factory=BatchingPolicy, description="signal batches")
    sampling: SamplingPolicy = Field(default_factory=SamplingPolicy, description="image sampling")
    degrade: DegradePolicy = Field(default_factory=DegradePolicy, description="degradation ladder")

    @model_validator(mode="after")
    def _cross_checks(self) -> Policy:
        run_checks(self)
        return self

    def klass(self, kind: str) -> ClassPolicy:
        """The rules for one outbox kind; a KeyError names the known kinds."""
        if kind not in KINDS:
            raise KeyError(f"unknown outbox kind {kind!r}; kinds are {', '.join(KINDS)}")
        policy: ClassPolicy = getattr(self.classes, kind)
        return policy

    def outbox_limits(self) -> Any:
        """The disk caps as ``fieldagent.outbox.model.Limits`` (imported here so the policy
        package does not depend on the outbox at import time)."""
        from fieldagent.outbox.model import ClassLimits, Limits

        per_kind = {
            k: ClassLimits(max_bytes=c.max_bytes, when_full=c.when_full, thin_every=c.thin_every)
            for k in KINDS
            for c in [self.klass(k)]
        }
        return Limits(total_bytes=self.link.total_max_bytes, per_kind=per_kind)
