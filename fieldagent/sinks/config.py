"""Where alerts go and when: the delivery sinks, quiet hours and retry bounds, as config.

``DeliveryConfig`` is a plain section whose fields all have defaults and whose checks are
model validators, so ``AlertsConfig`` can inherit it (``class AlertsConfig(DeliveryConfig)``)
and the site file keeps one flat ``alerts:`` section::

    alerts:
      sinks:
        - {kind: webhook, id: phone, url: "http://ntfy.lan/greenhouse", format: ntfy,
           attach_evidence: true, secret: ntfy}
        - {kind: email, id: office, host: mail.lan, sender: agent@farm.example,
           to: [grower@farm.example], secret: smtp}
      quiet_hours: ["22:00-06:00"]
      quiet_hours_except: critical
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from fieldagent.config.base import Section

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def at_least(severity: str, threshold: str) -> bool:
    """True when ``severity`` is as loud as ``threshold`` or louder."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


@dataclass(frozen=True)
class QuietWindow:
    """One daily quiet window in site-local wall-clock time; ``end < start`` wraps midnight."""

    start: time
    end: time

    @property
    def wraps(self) -> bool:
        return self.end < self.start

    def contains(self, t: time) -> bool:
        if self.wraps:
            return t >= self.start or t < self.end
        return self.start <= t < self.end


def parse_window(text: str) -> QuietWindow:
    """``"22:00-06:00"`` -> QuietWindow; ValueError with an example when malformed."""
    m = _WINDOW.match(text.strip())
    if m is None:
        raise ValueError(
            f"quiet hours {text!r} is not a time window: write HH:MM-HH:MM in 24-hour "
            "site-local time, e.g. '22:00-06:00' (a window may wrap midnight)"
        )
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    window = QuietWindow(time(h1, m1), time(h2, m2))
    if window.start == window.end:
        raise ValueError(
            f"quiet hours {text!r} starts and ends at the same minute, so it is unclear "
            "whether it means never or all day; give a real window such as '22:00-06:00'"
        )
    return window


class _SinkBase(Section):
    """What every sink has: an id, a severity filter and whether 'resolved' is sent."""

    id: str = Field(
        ...,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="unique sink id (lower-case letters, digits, '-', '_'); shown in status",
    )
    min_severity: Severity = Field(
        "info", description="deliver only alerts at or above this severity"
    )
    send_resolved: bool = Field(True, description="also deliver a message when an alert clears")
    secret: str | None = Field(
        None, description="name of the credentials entry in the secrets file (none: no auth)"
    )
    timeout_seconds: float = Field(
        10.0, ge=0.1, le=300.0, description="bound on each network wait of one attempt"
    )


class WebhookSink(_SinkBase):
    """An HTTP receiver: our JSON, a Slack/Teams/Mattermost incoming webhook, or ntfy.

    ``secret`` names an entry with ``token`` (sent as ``Authorization: Bearer``) or
    ``username`` and ``password`` (HTTP basic auth).
    """

    kind: Literal["webhook"] = Field("webhook", description="sink type")
    url: str = Field(
        ..., pattern=r"^https?://[^/\s]+", description="receiver URL (http:// or https://)"
    )
    format: Literal["json", "slack", "ntfy"] = Field(
        "json",
        description="json: fieldagent's alert record; slack: {\"text\": ...} for Slack, "
        "Teams or Mattermost incoming webhooks; ntfy: an ntfy topic URL",
    )
    attach_evidence: bool = Field(
        False,
        description="send the evidence JPEG too (json: base64 field; ntfy: as an attachment)",
    )

    @model_validator(mode="after")
    def _evidence_fits_format(self) -> WebhookSink:
        if self.attach_evidence and self.format == "slack":
            raise ValueError(
                f"sink {self.id!r}: incoming webhooks in slack format cannot carry an image; "
                "set attach_evidence: false (the message names the evidence's cloud key)"
            )
        return self


class EmailSink(_SinkBase):
    """An SMTP server, usually the site's LAN relay; the evidence JPEG is attached.

    ``secret`` names an entry with ``username`` and ``password`` for SMTP AUTH.
    """

    kind: Literal["email"] = Field("email", description="sink type")
    host: str = Field(..., min_length=1, description="SMTP server host name or address")
    port: int = Field(587, ge=1, le=65_535, description="SMTP port (587 starttls, 465 ssl)")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls: upgrade after connecting; ssl: TLS from the start"
    )
    ca_file: str | None = Field(
        None, description="PEM file of CA certificates to trust (a LAN server's own CA)"
    )
    sender: str = Field(..., description="From address, e.g. fieldagent@farm.example")
    to: list[str] = Field(..., min_length=1, description="recipient addresses")
    subject_prefix: str = Field(
        "[fieldagent]", max_length=60, description="put in front of every subject"
    )

    @field_validator("sender")
    @classmethod
    def _sender_is_address(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _recipients_are_addresses(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> EmailSink:
        if self.secret is not None and self.security == "none":
            raise ValueError(
                f"sink {self.id!r}: security: none would send the SMTP password in clear; "
                "use starttls or ssl, or remove secret for a relay that needs no login"
            )
        return self


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an e-mail address (expected name@domain)")
    return value


SinkConfig = Annotated[WebhookSink | EmailSink, Field(discriminator="kind")]


def _check_window(text: str) -> str:
    parse_window(text)
    return text


WindowText = Annotated[str, AfterValidator(_check_window)]


class DeliveryConfig(Section):
    """How alerts reach the grower: sinks, quiet hours, and how long delivery keeps trying."""

    sinks: list[SinkConfig] = Field(
        default_factory=list, description="where alerts are delivered (webhook, email)"
    )
    quiet_hours: list[WindowText] = Field(
        default_factory=list,
        description="site-local windows 'HH:MM-HH:MM' (may wrap midnight) when alerts below "
        "quiet_hours_except are held, then delivered as the window ends",
    )
    quiet_hours_except: Severity = Field(
        "critical", description="alerts at or above this severity ignore quiet hours"
    )
    retry_max_minutes: float = Field(
        1440.0, ge=1.0, le=43_200.0, description="give up on a delivery failing this long"
    )
    backoff_min_seconds: float = Field(
        5.0, ge=0.1, le=3600.0, description="first wait after a sink fails"
    )
    backoff_max_seconds: float = Field(
        600.0, ge=1.0, le=86_400.0, description="longest wait between attempts on a sink"
    )
    max_evidence_kb: int = Field(
        512, ge=0, le=10_240, description="larger evidence JPEGs are not kept or attached"
    )
    history_days: float = Field(
        30.0, ge=1.0, le=3650.0, description="finished deliveries kept for status and dedupe"
    )

    @model_validator(mode="after")
    def _unique_sink_ids(self) -> DeliveryConfig:
        ids = [s.id for s in self.sinks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"sink ids are used twice: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _backoff_bounds(self) -> DeliveryConfig:
        if self.backoff_min_seconds > self.backoff_max_seconds:
            raise ValueError(
                f"backoff_min_seconds ({self.backoff_min_seconds}) is above "
                f"backoff_max_seconds ({self.backoff_max_seconds}); swap or raise the maximum"
            )
        return self

    def windows(self) -> list[QuietWindow]:
        """The parsed quiet windows."""
        return [parse_window(t) for t in self.quiet_hours]
