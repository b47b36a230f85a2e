"""The e-mail sink against a real aiosmtpd server: attachment, ids, TLS, login, refusals."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldagent.config.secrets import SecretStore
from fieldagent.sinks.mail import message_id
from tests.sinks.conftest import MakeDispatcher
from tests.sinks.factories import T0, email_sink, jpeg_bytes, make_alert
from tests.sinks.servers import Mailbox, SmtpServer, make_tls_files, password_checker
from tests.support.clock import SimClock

KEY = "greenhouse-12/cam1/2026/06/01/080500-evidence.jpg"
SECRETS = SecretStore({"smtp": {"username": "agent", "password": "pw-1"}}, environ={})


def test_mail_carries_the_message_and_the_evidence_jpeg(
    smtp: tuple[Mailbox, SmtpServer], make_dispatcher: MakeDispatcher
) -> None:
    box, server = smtp
    jpeg, alert = jpeg_bytes(), make_alert()
    d = make_dispatcher([email_sink(server.port, to=["a@farm.example", "b@farm.example"])])
    d.submit(alert, jpeg, KEY)
    assert d.deliver_due().delivered == 1
    (mail,) = box.wait_for(1)
    msg = mail.message
    assert mail.recipients == ["a@farm.example", "b@farm.example"]
    assert msg["Subject"] == ("[fieldagent] ⚠ warning — greenhouse-12 cam1 zone B-2: "
                              "a large share of the leaf area has turned yellow")
    assert msg["Message-ID"] == message_id(alert.key, "raised", "farm.example")
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "yellow fraction 0.213 > 0.15, since 10:05" in text
    assert f"cloud copy: {KEY}" in text and alert.key in text
    (part,) = list(msg.iter_attachments())
    assert part.get_content_type() == "image/jpeg"
    assert part.get_filename() == "greenhouse-12-cam1-B-2-20260601T0805.jpg"
    assert part.get_content() == jpeg


def test_resolved_mail_threads_under_the_raised_one(
    smtp: tuple[Mailbox, SmtpServer], make_dispatcher: MakeDispatcher
) -> None:
    box, server = smtp
    d = make_dispatcher([email_sink(server.port)])
    raised = make_alert()
    resolved = make_alert("resolved", at=T0 + timedelta(hours=2, minutes=15))
    d.submit(raised, jpeg_bytes())
    d.submit(resolved)
    assert d.deliver_due().delivered == 2
    first, second = box.wait_for(2)
    assert second.message["In-Reply-To"] == first.message["Message-ID"]
    assert second.message["Message-ID"] != first.message["Message-ID"]
    assert "✅ resolved" in second.message["Subject"]
    body = second.message.get_body(("plain",))
    assert body is not None
    assert "over after 2 h 15 min (since 10:05; yellow fraction now 0.08)" in body.get_content()
    assert not list(second.message.iter_attachments())


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_tls_files(tmp_path)


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@pytest.fixture
def tls_smtp(tls_files: tuple[Path, Path, Path]) -> Iterator[tuple[Mailbox, SmtpServer]]:
    """STARTTLS required, login required, one account: like a site's own mail server."""
    _, cert, key = tls_files
    box = Mailbox()
    server = SmtpServer(box, hostname="127.0.0.1", port=0,
                        tls_context=_server_context(cert, key), require_starttls=True,
                        authenticator=password_checker("agent", "pw-1"), auth_required=True)
    server.start()
    yield box, server
    server.stop()


def test_starttls_and_login_with_the_sites_own_ca(
    tls_smtp: tuple[Mailbox, SmtpServer], tls_files: tuple[Path, ...],
    make_dispatcher: MakeDispatcher,
) -> None:
    box, server = tls_smtp
    sink = email_sink(server.port, security="starttls", secret="smtp", ca_file=str(tls_files[0]))
    d = make_dispatcher([sink], secrets=SECRETS)
    d.submit(make_alert(), jpeg_bytes())
    assert d.deliver_due().delivered == 1
    assert box.wait_for(1)[0].sender == "agent@farm.example"


def test_implicit_tls(tls_files: tuple[Path, ...], make_dispatcher: MakeDispatcher) -> None:
    ca, cert, key = tls_files
    box = Mailbox()
    server = SmtpServer(box, hostname="127.0.0.1", port=0, ssl_context=_server_context(cert, key))
    server.start()
    try:
        d = make_dispatcher([email_sink(server.port, security="ssl", ca_file=str(ca))])
        d.submit(make_alert())
        assert d.deliver_due().delivered == 1
        assert len(box.wait_for(1)) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("sink_extra", "secrets", "words"),
    [
        ({"security": "starttls", "secret": "smtp"}, SECRETS, "set ca_file"),
        ({"security": "starttls", "secret": "smtp", "ca_file": "CA"},
         SecretStore({"smtp": {"username": "agent", "password": "wrong"}}, environ={}),
         "check username and password in secrets entry 'smtp'"),
    ],
    ids=["untrusted-certificate", "wrong-password"],
)
def test_config_mistakes_fail_for_good_with_what_to_fix(
    tls_smtp: tuple[Mailbox, SmtpServer], tls_files: tuple[Path, ...], clock: SimClock,
    make_dispatcher: MakeDispatcher, sink_extra: dict[str, Any], secrets: SecretStore,
    words: str,
) -> None:
    box, server = tls_smtp
    if sink_extra.get("ca_file") == "CA":
        sink_extra = sink_extra | {"ca_file": str(tls_files[0])}
    d = make_dispatcher([email_sink(server.port, **sink_extra)], secrets=secrets)
    d.submit(make_alert())
    report = d.deliver_due()
    assert report.failed == 1 and report.delivered == 0
    status = d.status()["office"]
    assert status["failed"] == 1 and status["pending"] == 0
    assert words in status["last_error"] and "'office'" in status["last_error"]
    assert not box.mails


def test_smtp_4xx_retries_and_5xx_gives_up(
    smtp: tuple[Mailbox, SmtpServer], clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    box, server = smtp
    box.fail_next.extend(["451 4.3.0 mailbox busy, try later",
                          "554 5.6.0 message content rejected"])
    d = make_dispatcher([email_sink(server.port)])
    d.submit(make_alert())
    first = d.deliver_due().sink("office")
    assert first is not None and first.retry_at is not None
    assert "SMTP 451" in (first.error or "") and d.status()["office"]["pending"] == 1
    clock.now = first.retry_at
    second = d.deliver_due()
    assert second.failed == 1
    assert "SMTP 554" in d.status()["office"]["last_error"]
    assert not box.mails
