"""Alert rules as config: what is watched, for how long, how it clears, how loud."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from fieldagent.alerts.names import flag_names, rule_signal_names, unknown
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
        problem = (unknown(self.signal, rule_signal_names(), "signal") if self.signal
                   else unknown(self.flag or "", flag_names(), "flag"))
        if problem:
            raise ValueError(f"{problem}: a rule on it would never fire "
                             "(`fieldagent signals` lists the signals)")
        return self

    @property
    def text(self) -> str:
        """'yellow_fraction > 0.15' or 'flag fog'."""
        if self.signal is not None:
            return f"{self.signal} {self.op} {self.value:g}"
        return f"flag {self.flag}"


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
    see ``fieldagent.sinks.config.DeliveryConfig``).

    ``rules`` *add to* the built-in rules (a rule with a built-in id replaces that one);
    ``disable`` leaves named built-in rules out; ``replace_defaults: true`` keeps only
    ``rules``. A site left without any rule on plant stress or on camera health is refused,
    unless ``enabled: false`` turns alerts off in so many words.
    """

    enabled: bool = Field(
        True, description="false turns every alert off (status, /metrics and heartbeats say so)"
    )
    replace_defaults: bool = Field(
        False, description="true: 'rules' replace the built-in rules instead of adding to them"
    )
    disable: list[str] = Field(
        default_factory=list, description="ids of built-in rules to leave out (e.g. camera-fogged)"
    )
    rules: list[AlertRule] = Field(
        default_factory=list,
        description="your rules, evaluated with the built-in ones (same id: yours replaces it)",
    )

    @property
    def active_rules(self) -> list[AlertRule]:
        """The rules evaluated on every image: built-in (unless replaced or disabled) then
        the site's own; none when alerts are off."""
        if not self.enabled:
            return []
        own = {r.id for r in self.rules}
        builtin = [] if self.replace_defaults else [
            r for r in default_rules() if r.id not in own and r.id not in self.disable]
        return [*builtin, *self.rules]

    def origin(self, rule: AlertRule) -> str:
        """'built-in', 'site (replaces the built-in rule)' or 'site'."""
        if rule in self.rules:
            builtin = {r.id for r in default_rules()}
            return "site (replaces the built-in rule)" if rule.id in builtin else "site"
        return "built-in"

    @model_validator(mode="after")
    def _unique_ids(self) -> AlertsConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    @model_validator(mode="after")
    def _disable_names_builtin_rules(self) -> AlertsConfig:
        builtin = [r.id for r in default_rules()]
        for rid in self.disable:
            problem = unknown(rid, builtin, "built-in rule")
            if problem:
                raise ValueError(f"disable: {problem}")
        return self

    @model_validator(mode="after")
    def _alerts_cannot_vanish(self) -> AlertsConfig:
        if not self.enabled:
            return self
        rules = self.active_rules
        stress = [r.id for r in rules if r.when.signal is not None]
        health = [r.id for r in rules if r.when.flag is not None]
        missing = [what for what, have in (("plant stress (a rule on a signal)", stress),
                                           ("camera health (a rule on a flag)", health))
                   if not have]
        if missing:
            how = ("remove 'replace_defaults' to keep the built-in rules"
                   if self.replace_defaults else "keep some built-in rules out of 'disable'")
            raise ValueError(
                f"rules: the site would get no alert on {' or '.join(missing)}; {how}, "
                "or set 'enabled: false' to turn alerts off on purpose")
        return self
