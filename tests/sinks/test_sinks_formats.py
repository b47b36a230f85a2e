"""Each webhook format reaches a real HTTP receiver well-formed, with auth when configured."""

from __future__ import annotations

import base64
import json
from email.header import decode_header, make_header

import pytest

from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError
from fieldagent.sinks.store import alert_from_record, delivery_id
from tests.sinks.conftest import MakeDispatcher
from tests.sinks.factories import jpeg_bytes, make_alert, webhook_sink
from tests.sinks.servers import Receiver

KEY = "greenhouse-12/cam1/2026/06/01/080500-evidence.jpg"


def _decoded(header: str) -> str:
    return str(make_header(decode_header(header)))


def test_json_carries_the_alert_record_evidence_and_idempotency_key(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    jpeg, alert = jpeg_bytes(), make_alert()
    d = make_dispatcher([webhook_sink(receiver.url, attach_evidence=True)])
    d.submit(alert, jpeg, KEY)
    assert d.deliver_due().delivered == 1
    (req,) = receiver.wait_for(1)
    assert req.method == "POST" and req.headers["content-type"] == "application/json"
    doc = json.loads(req.body)
    assert doc["schema"] == "fieldagent.alert/1"
    record = {k: doc[k] for k in alert.to_dict()}
    assert alert_from_record(record) == alert  # the full alert survives the trip
    assert base64.b64decode(doc["evidence_jpeg_base64"]) == jpeg
    assert doc["evidence_key"] == KEY
    assert req.headers["idempotency-key"] == doc["delivery_id"] == delivery_id(
        alert.key, "raised", "hook")
    assert "yellow fraction 0.213 > 0.15" in doc["text"] and "since 10:05" in doc["text"]


def test_json_leaves_the_picture_out_unless_asked(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url)])
    d.submit(make_alert(), jpeg_bytes(), KEY)
    d.deliver_due()
    doc = json.loads(receiver.wait_for(1)[0].body)
    assert "evidence_jpeg_base64" not in doc and doc["evidence_key"] == KEY


def test_slack_format_is_one_readable_text_field(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url, format="slack")])
    d.submit(make_alert(zone="<B&2>"), jpeg_bytes(), KEY)
    d.deliver_due()
    doc = json.loads(receiver.wait_for(1)[0].body)
    assert list(doc) == ["text"]
    text = doc["text"]
    assert text.startswith("⚠ warning — greenhouse-12 cam1 zone &lt;B&amp;2&gt;:")
    assert "<" not in text  # Slack markup characters are escaped


def test_ntfy_posts_the_text_with_title_priority_and_tags(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url, format="ntfy")])
    d.submit(make_alert(severity="critical"), jpeg_bytes(), KEY)
    d.deliver_due()
    (req,) = receiver.wait_for(1)
    assert req.method == "POST"
    assert req.body.decode("utf-8").startswith("a large share of the leaf area")
    assert _decoded(req.headers["title"]) == "critical — greenhouse-12 cam1 zone B-2"
    assert req.headers["priority"] == "5"
    assert req.headers["tags"].split(",") == ["rotating_light", "zone-yellowing"]


def test_ntfy_puts_the_evidence_as_an_attachment_with_the_message_header(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    jpeg = jpeg_bytes()
    d = make_dispatcher([webhook_sink(receiver.url, format="ntfy", attach_evidence=True)])
    d.submit(make_alert(what="Blätter werden gelb"), jpeg, KEY)
    d.deliver_due()
    (req,) = receiver.wait_for(1)
    assert req.method == "PUT" and req.body == jpeg
    assert req.headers["filename"] == "greenhouse-12-cam1-B-2-20260601T0805.jpg"
    message = _decoded(req.headers["message"])
    assert req.headers["message"].isascii()  # RFC 2047 on the wire, UTF-8 once decoded
    assert message.startswith("Blätter werden gelb (yellow fraction 0.213 > 0.15")
    assert req.headers["priority"] == "4"


def test_ntfy_resolved_is_quiet_and_ticked(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url, format="ntfy")])
    d.submit(make_alert("resolved", severity="critical"))
    d.deliver_due()
    (req,) = receiver.wait_for(1)
    assert req.headers["priority"] == "3"
    assert req.headers["tags"].startswith("white_check_mark,")
    assert _decoded(req.headers["title"]).startswith("resolved — ")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"token": "tk_abc123"}, "Bearer tk_abc123"),
        ({"username": "grower", "password": "s3cret"},
         "Basic " + base64.b64encode(b"grower:s3cret").decode()),
    ],
)
def test_secret_becomes_the_authorization_header(
    receiver: Receiver, make_dispatcher: MakeDispatcher, entry: dict[str, str], expected: str
) -> None:
    secrets = SecretStore({"ntfy": entry}, environ={})
    d = make_dispatcher([webhook_sink(receiver.url, format="ntfy", secret="ntfy")],
                        secrets=secrets)
    d.submit(make_alert())
    d.deliver_due()
    assert receiver.wait_for(1)[0].headers["authorization"] == expected


def test_a_missing_or_unusable_secret_stops_the_start(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    with pytest.raises(ConfigError, match="no such secrets entry"):
        make_dispatcher([webhook_sink(receiver.url, secret="ntfy")])
    secrets = SecretStore({"ntfy": {"user": "x"}}, source="secrets.yaml", environ={})
    with pytest.raises(ConfigError, match="needs 'token'"):
        make_dispatcher([webhook_sink(receiver.url, secret="ntfy")], secrets=secrets)
