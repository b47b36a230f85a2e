"""Alert rules as config: what is watched, for how long, how it clears, how loud."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from fieldagent.config.base import Section
from fieldagent.sinks.config import DeliveryConfig

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Condition(Section):
    """One test on one observation: a signal compared with a value, or a flag being present."""

    signal: str | None = Field(
        None, description="signal name from the signal table (e.g. yellow_fraction)"
    )
    flag: str | None = Field(
        None, description="quality or region flag name (e.g. fog, moved, touches_border)"
    )
    op: Literal[">", ">=", "<", "<="] = Field(">", description="comparison for signal rules")
    value: float | None = Field(None, description="threshold the signal is compared with")

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        if (self.signal is None) == (self.flag is None):
            raise ValueError("give exactly one of 'signal' or 'flag'")
        if self.signal is not None and self.value is None:
            raise ValueError(f"signal rule on {self.signal!r} needs a 'value' to compare with")
        return self


class AlertRule(Section):
    """Raises an alert when its condition holds long enough; resolves it when it clears."""

    id: str = Field(..., min_length=1, max_length=64, description="unique rule id")
    description: str = Field("", max_length=300, description="shown to the grower with the alert")
    cameras: list[str] = Field(["*"], description="camera ids (glob patterns) the rule applies to")
    zones: list[str] = Field(["*"], description="zone ids (glob patterns) the rule applies to")
    when: Condition = Field(..., description="the condition on a signal or a flag")
    for_images: int = Field(
        1, ge=1, le=10_000, description="consecutive images the condition must hold"
    )
    for_minutes: float = Field(
        0.0, ge=0.0, le=10_080.0, description="minutes the condition must hold (0 = no minimum)"
    )
    clear_value: float | None = Field(
        None, description="hysteresis: a signal alert resolves only past this value"
    )
    clear_images: int = Field(
        1, ge=1, le=10_000, description="consecutive clear images before 'resolved'"
    )
    cooldown_minutes: float = Field(
        0.0, ge=0.0, le=10_080.0, description="minimum minutes between two raises of this alert"
    )
    severity: Literal["info", "warning", "critical"] = Field(
        "warning", description="how loud the alert is"
    )

    @model_validator(mode="after")
    def _valid(self) -> AlertRule:
        if not _ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be letters, digits, '_', '.' or '-'")
        if self.clear_value is not None and self.when.flag is not None:
            raise ValueError("clear_value only applies to signal rules, not flag rules")
        if self.clear_value is not None and self.when.value is not None:
            raising_up = self.when.op in (">", ">=")
            if (raising_up and self.clear_value > self.when.value) or (
                not raising_up and self.clear_value < self.when.value
            ):
                raise ValueError(
                    f"clear_value {self.clear_value} must lie on the healthy side of "
                    f"{self.when.op} {self.when.value} (hysteresis)"
                )
        return self


def default_rules() -> list[AlertRule]:
    """What a grower gets with no configuration: stressed zones and cameras that need a visit."""
    rules = [
        {
            "id": "zone-stressed",
            "description": "plants in this zone look different from their own recent baseline",
            "when": {"signal": "stress_score", "op": ">", "value": 4.0},
            "clear_value": 2.5,
            "for_images": 2,
            "clear_images": 2,
            "severity": "warning",
        },
        {
            "id": "zone-yellowing",
            "description": "a large share of the leaf area has turned yellow",
            "when": {"signal": "yellow_fraction", "op": ">", "value": 0.15},
            "clear_value": 0.10,
            "for_images": 2,
            "clear_images": 2,
            "severity": "warning",
        },
        {
            "id": "zone-browning",
            "description": "dead or scorched (brown) leaf tissue is spreading",
            "when": {"signal": "brown_fraction", "op": ">", "value": 0.15},
            "clear_value": 0.10,
            "for_images": 2,
            "clear_images": 2,
            "severity": "critical",
        },
        {
            "id": "camera-moved",
            "description": "the camera has moved; zones may no longer cover the right plants",
            "when": {"flag": "moved"},
            "for_images": 2,
            "severity": "warning",
        },
        {
            "id": "camera-fogged",
            "description": "the lens is fogged or covered in condensation",
            "when": {"flag": "fog"},
            "for_images": 3,
            "clear_images": 2,
            "severity": "info",
        },
        {
            "id": "camera-frozen",
            "description": "the camera keeps sending the same picture",
            "when": {"flag": "frozen"},
            "for_images": 3,
            "severity": "warning",
        },
    ]
    return [AlertRule.model_validate(r) for r in rules]


class AlertsConfig(DeliveryConfig):
    """The site's alert rules, and how alerts reach the grower (``sinks``, quiet hours:
    see ``fieldagent.sinks.config.DeliveryConfig``)."""

    rules: list[AlertRule] = Field(
        default_factory=default_rules, description="rules evaluated on every image"
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> AlertsConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self
