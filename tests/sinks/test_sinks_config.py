"""Delivery config: every field described and bounded; each check refuses with a clear reason."""

from __future__ import annotations

from typing import Any, get_args, get_origin

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from fieldagent.config.loader import validate
from fieldagent.errors import ConfigError
from fieldagent.sinks.config import DeliveryConfig, EmailSink, WebhookSink

HOOK = {"kind": "webhook", "id": "phone", "url": "http://ntfy.lan/greenhouse", "format": "ntfy"}
MAIL = {"kind": "email", "id": "office", "host": "mail.lan", "sender": "agent@farm.example",
        "to": ["grower@farm.example"]}


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(DeliveryConfig, data, "site.yaml")
    return info.value.problems


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            t = stack.pop()
            stack.extend(get_args(t))
            if get_origin(t) is None and isinstance(t, type) and issubclass(t, BaseModel):
                _models(t, seen)


def test_every_field_is_described_and_numbers_are_bounded() -> None:
    seen: set[type[BaseModel]] = set()
    _models(DeliveryConfig, seen)
    assert {WebhookSink, EmailSink} <= seen
    for model in seen:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            if field.annotation in (int, float):
                assert any(isinstance(m, Ge | Gt | Le | Lt) for m in field.metadata), (
                    f"{model.__name__}.{name} has no range")


def test_a_full_config_validates_and_dispatches_on_kind() -> None:
    cfg = validate(DeliveryConfig, {"sinks": [HOOK, MAIL], "quiet_hours": ["22:00-06:00"]},
                   "site.yaml")
    assert [type(s) for s in cfg.sinks] == [WebhookSink, EmailSink]
    assert cfg.quiet_hours_except == "critical" and cfg.retry_max_minutes == 1440
    assert DeliveryConfig().sinks == []  # no sinks: alerts are only logged and uploaded


@pytest.mark.parametrize(
    ("data", "where", "words"),
    [
        ({"quiet_hours": ["25:00-06:00"]}, "quiet_hours[0]", "write HH:MM-HH:MM"),
        ({"quiet_hours": ["2200-0600"]}, "quiet_hours[0]", "e.g. '22:00-06:00'"),
        ({"quiet_hours": ["07:00-07:00"]}, "quiet_hours[0]", "never or all day"),
        ({"quiet_hours_except": "urgent"}, "quiet_hours_except", "'critical'"),
        ({"sinks": [HOOK, HOOK]}, "(top level)", "sink ids are used twice: phone"),
        ({"sinks": [HOOK | {"format": "slack", "attach_evidence": True}]}, "sinks[0]",
         "set attach_evidence: false"),
        ({"sinks": [HOOK | {"url": "ftp://x"}]}, "sinks[0].webhook.url", "https?"),
        ({"sinks": [HOOK | {"kind": "sms"}]}, "sinks[0]", "'webhook', 'email'"),
        ({"sinks": [MAIL | {"to": []}]}, "sinks[0].email.to", "at least 1"),
        ({"sinks": [MAIL | {"to": ["grower"]}]}, "sinks[0].email.to", "not an e-mail address"),
        ({"sinks": [MAIL | {"security": "none", "secret": "smtp"}]}, "sinks[0]",
         "would send the SMTP password in clear"),
        ({"sinks": [MAIL | {"id": "Office Mail"}]}, "sinks[0].email.id", "pattern"),
        ({"backoff_min_seconds": 900, "backoff_max_seconds": 60}, "(top level)",
         "swap or raise the maximum"),
        ({"retry_max_minutes": 0}, "retry_max_minutes", "greater than or equal to 1"),
    ],
)
def test_mistakes_are_refused_with_where_and_why(
    data: dict[str, Any], where: str, words: str
) -> None:
    problems = _problems(data)
    assert any(p.startswith(f"site.yaml: {where}") and words in p for p in problems), problems
