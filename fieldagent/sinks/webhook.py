"""HTTP sinks: fieldagent JSON, Slack-style ``{"text": ...}`` and ntfy, sent with ``requests``.

Every request carries ``Idempotency-Key: <delivery id>`` (derived from the alert key, its
state and the sink). The dispatcher commits "delivered" right after a 2xx, so the one
window for a duplicate is a crash between the receiver's answer and that commit; a
receiver that honours the key can drop the repeat, the others show it twice.

Outcomes: 2xx delivered; 408, 429, 5xx, timeouts and connection errors are temporary
(``SinkUnavailable``, with ``Retry-After`` when given); 3xx and other 4xx are permanent
(``SinkRejected``, with what to fix). Redirects are not followed: a POST silently turned
into a GET would look delivered. URLs in messages show only scheme, host and port, as a
Slack webhook's path is its secret.

``timeout_seconds`` bounds the connect and each wait for data; ``requests`` has no total
deadline, so a receiver trickling bytes can stretch one attempt, and only that sink waits.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError
from fieldagent.sinks import message
from fieldagent.sinks.config import WebhookSink
from fieldagent.sinks.errors import SinkRejected, SinkUnavailable
from fieldagent.sinks.store import Delivery

SCHEMA = "fieldagent.alert/1"
NTFY_PRIORITY = {"info": "3", "warning": "4", "critical": "5"}
_TAG = re.compile(r"<[^>]*>")
NTFY_TAG = {"info": "information_source", "warning": "warning", "critical": "rotating_light"}


@dataclass(frozen=True)
class HttpRequest:
    """What goes on the wire for one delivery."""

    method: str
    headers: dict[str, str]
    body: bytes


def build_request(
    sink: WebhookSink, delivery: Delivery, zone: ZoneInfo, now: datetime
) -> HttpRequest:
    """The request for one delivery in the sink's format, as sent at ``now`` (pure)."""
    headers = {"Idempotency-Key": delivery.id, "User-Agent": "fieldagent"}
    if sink.format == "json":
        return HttpRequest("POST", headers | {"Content-Type": "application/json"},
                           json_payload(sink, delivery, zone, now))
    if sink.format == "slack":
        doc = {"text": _slack_escape(message.text(delivery.alert, zone, now))}
        return HttpRequest("POST", headers | {"Content-Type": "application/json"},
                           json.dumps(doc, ensure_ascii=False).encode())
    return _ntfy_request(sink, delivery, zone, now, headers)


def json_payload(
    sink: WebhookSink, delivery: Delivery, zone: ZoneInfo, now: datetime
) -> bytes:
    """fieldagent's own schema: the alert record plus the readable text and the evidence."""
    alert = delivery.alert
    doc = {
        "schema": SCHEMA,
        **alert.to_dict(),
        "title": message.title(alert),
        "text": message.text(alert, zone, now),
        "delivery_id": delivery.id,
        "evidence_key": delivery.evidence_key,
    }
    if sink.attach_evidence and delivery.evidence:
        doc["evidence_jpeg_base64"] = base64.b64encode(delivery.evidence).decode("ascii")
    return json.dumps(doc, ensure_ascii=False).encode()


def _ntfy_request(
    sink: WebhookSink, delivery: Delivery, zone: ZoneInfo, now: datetime,
    headers: dict[str, str],
) -> HttpRequest:
    """ntfy's publish API: POST the text as the body, or PUT the JPEG as an attachment with
    the text in the ``Message`` header and the file name in ``Filename``. Non-ASCII header
    values are RFC 2047 encoded words, which ntfy decodes."""
    alert = delivery.alert
    resolved = alert.state == "resolved"
    headers |= {
        "Title": _header(message.title(alert, symbol=False)),
        "Priority": "3" if resolved else NTFY_PRIORITY.get(alert.severity, "3"),
        "Tags": ",".join(["white_check_mark" if resolved else NTFY_TAG.get(alert.severity,
                                                                            "bell"), alert.rule]),
    }
    text = message.body(alert, zone, now)
    if sink.attach_evidence and delivery.evidence:
        headers |= {"Filename": evidence_filename(delivery), "Message": _header(text)}
        return HttpRequest("PUT", headers, delivery.evidence)
    return HttpRequest("POST", headers | {"Content-Type": "text/plain; charset=utf-8"},
                       text.encode())


def evidence_filename(delivery: Delivery) -> str:
    """``site-camera-zone-20260601T1005.jpg``, ASCII only (it travels in headers)."""
    a = delivery.alert
    zone = "camera" if a.zone == "-" else a.zone
    stem = f"{a.site}-{a.camera}-{zone}-{a.since.strftime('%Y%m%dT%H%M')}"
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in stem) + ".jpg"


class WebhookSender:
    """Sends deliveries to one webhook sink; one ``requests.Session`` (keep-alive) per sink."""

    def __init__(self, sink: WebhookSink, secrets: SecretStore, zone: ZoneInfo) -> None:
        self.sink = sink
        self._zone = zone
        self._where = f"webhook sink {sink.id!r} ({redact(sink.url)})"
        self._session = requests.Session()
        self._bearer: str | None = None
        if sink.secret is not None:
            entry = secrets.get(sink.secret)
            if "token" in entry:
                self._bearer = entry["token"]
            elif {"username", "password"} <= entry.keys():
                self._session.auth = (entry["username"], entry["password"])
            else:
                raise ConfigError([
                    f"{secrets.source}: {sink.secret}: sink {sink.id!r} needs 'token' "
                    "(Bearer) or 'username' and 'password' (basic auth) in this entry"
                ])

    def send(self, delivery: Delivery, now: datetime) -> None:
        """One attempt; returns on 2xx, raises ``SinkUnavailable`` or ``SinkRejected``."""
        req = build_request(self.sink, delivery, self._zone, now)
        headers = dict(req.headers)
        if self._bearer is not None:
            headers["Authorization"] = f"Bearer {self._bearer}"
        timeout = self.sink.timeout_seconds
        try:
            resp = self._session.request(
                req.method, self.sink.url, data=req.body, headers=headers,
                timeout=(timeout, timeout), allow_redirects=False,
            )
        except requests.Timeout:
            raise SinkUnavailable(
                f"{self._where}: no answer within {timeout:g} s; will retry (is the receiver "
                "overloaded, or is timeout_seconds too short?)"
            ) from None
        except requests.RequestException as exc:
            raise SinkUnavailable(
                f"{self._where}: cannot reach the receiver ({root_cause(exc)}); will retry "
                "(check that it runs and that the agent can reach it)"
            ) from None
        with resp:
            check_response(resp.status_code, resp.reason, resp.headers, resp.text,
                           self._where, self.sink)

    def close(self) -> None:
        self._session.close()


def check_response(
    status: int, reason: str, headers: Mapping[str, str],
    body: str, where: str, sink: WebhookSink,
) -> None:
    """Translate an HTTP status into nothing (2xx), ``SinkUnavailable`` or ``SinkRejected``."""
    if 200 <= status < 300:
        return
    said = " ".join(_TAG.sub(" ", body).split())[:200]  # an HTML error page, as words
    answer = f"{where}: HTTP {status} {reason}" + (f" ({said})" if said else "")
    if status in (408, 429) or status >= 500:
        raise SinkUnavailable(f"{answer}; will retry",
                              retry_after=retry_after_seconds(headers))
    if 300 <= status < 400:
        hint = (f"the receiver redirects to {redact(headers.get('Location', '?'))}; "
                "put the final URL in the sink's url")
    elif status in (401, 403):
        hint = (f"check the credentials in secrets entry {sink.secret!r}" if sink.secret
                else "the receiver needs credentials: add a secret to the sink")
    elif status == 404:
        hint = "check the sink's url (the webhook path or ntfy topic)"
    elif status == 413:
        hint = "the payload is too large: set attach_evidence: false or raise the receiver's limit"
    else:
        hint = f"the receiver refuses this request: check the sink's url and format ({sink.format})"
    raise SinkRejected(f"{answer}; not retried: {hint}")


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds: delta-seconds, or an HTTP date measured against the
    response's own ``Date`` (so the agent's clock does not matter)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
        date = headers.get("Date")
        sent: datetime = parsedate_to_datetime(date) if date else until
    except (TypeError, ValueError):
        return None
    return max(0.0, (until - sent).total_seconds())


def redact(url: str) -> str:
    """``scheme://host:port`` only: paths and user info can carry secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def root_cause(exc: BaseException) -> str:
    """The operating system's words for a connection failure, without URLs."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        stack.extend(x for x in (e.__cause__, e.__context__, getattr(e, "reason", None),
                                 *e.args) if isinstance(x, BaseException))
    return type(exc).__name__


def _header(value: str) -> str:
    if value.isascii():
        return value
    return "=?utf-8?b?" + base64.b64encode(value.encode()).decode("ascii") + "?="


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
