"""E-mail sink: one message per alert through the site's SMTP server, evidence JPEG attached.

The ``Message-ID`` is derived from the alert key and state, so if a crash between the
server's "250 OK" and our commit makes us send again, mail clients that dedupe on it show
one message; a resolved mail names the raised one in ``In-Reply-To``, so they thread.

Outcomes: SMTP 5xx replies (refused recipients, refused login, a message too big),
``STARTTLS`` missing and an untrusted certificate are permanent (``SinkRejected``: a
person must fix the config); 4xx replies, timeouts and connection errors are temporary
(``SinkUnavailable``). ``timeout_seconds`` bounds each network wait.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from fieldagent.config.secrets import SecretStore
from fieldagent.sinks import message
from fieldagent.sinks.config import EmailSink
from fieldagent.sinks.errors import SinkRejected, SinkUnavailable
from fieldagent.sinks.store import Delivery
from fieldagent.sinks.webhook import evidence_filename


def message_id(key: str, state: str, domain: str) -> str:
    """``<hash@domain>``: the same alert message always gets the same id."""
    digest = hashlib.sha256(f"{key}|{state}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(
    sink: EmailSink, delivery: Delivery, zone: ZoneInfo, now: datetime
) -> EmailMessage:
    """The e-mail for one delivery, as sent at ``now`` (pure: no I/O)."""
    alert = delivery.alert
    domain = sink.sender.rsplit("@", 1)[1]
    msg = EmailMessage()
    msg["From"] = sink.sender
    msg["To"] = ", ".join(sink.to)
    msg["Subject"] = f"{sink.subject_prefix} {message.title(alert)}: {alert.what}".strip()
    msg["Date"] = format_datetime(alert.at)
    msg["Message-ID"] = message_id(alert.key, alert.state, domain)
    if alert.state == "resolved":
        raised = message_id(alert.key, "raised", domain)
        msg["In-Reply-To"] = raised
        msg["References"] = raised
    attach = delivery.evidence is not None
    msg.set_content(message.details(alert, zone, delivery.evidence_key, attach, now))
    if delivery.evidence is not None:
        msg.add_attachment(delivery.evidence, maintype="image", subtype="jpeg",
                           filename=evidence_filename(delivery))
    return msg


class EmailSender:
    """Sends deliveries to one SMTP sink; one connection per message (alerts are rare)."""

    def __init__(self, sink: EmailSink, secrets: SecretStore, zone: ZoneInfo) -> None:
        self.sink = sink
        self._zone = zone
        self._where = f"email sink {sink.id!r} ({sink.host}:{sink.port})"
        self._login: tuple[str, str] | None = None
        if sink.secret is not None:
            self._login = (secrets.field(sink.secret, "username"),
                           secrets.field(sink.secret, "password"))
        self._tls = ssl.create_default_context(cafile=sink.ca_file)

    def send(self, delivery: Delivery, now: datetime) -> None:
        """One attempt; returns once the server accepted the message."""
        msg = build_message(self.sink, delivery, self._zone, now)
        try:
            with self._connect() as smtp:
                if self._login is not None:
                    smtp.login(*self._login)
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(f"{r} ({c})" for r, (c, _) in exc.recipients.items())
            raise SinkRejected(f"{self._where}: the server refused every recipient: {refused}; "
                               "check the sink's 'to' addresses") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SinkRejected(f"{self._where}: {exc}; check the sink's security (ssl if the "
                               "port speaks TLS from the start) and whether the server offers "
                               "the login the sink's secret asks for") from None
        except smtplib.SMTPResponseException as exc:
            raise self._translate(exc) from None
        except ssl.SSLCertVerificationError as exc:
            raise SinkRejected(f"{self._where}: the server's certificate is not trusted "
                               f"({exc.verify_message}); set ca_file to the CA that signed it "
                               "or fix the host name") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SinkUnavailable(f"{self._where}: {_describe(exc)}; will retry (check that "
                                  "the server runs and the agent can reach it)") from None

    def close(self) -> None:
        """Nothing held between messages."""

    def _connect(self) -> smtplib.SMTP:
        s, t = self.sink, self.sink.timeout_seconds
        name = socket.gethostname()  # getfqdn() may wait on DNS, which is down when we need it
        if s.security == "ssl":
            return smtplib.SMTP_SSL(s.host, s.port, local_hostname=name, timeout=t,
                                    context=self._tls)
        smtp = smtplib.SMTP(s.host, s.port, local_hostname=name, timeout=t)
        try:
            if s.security == "starttls":
                smtp.starttls(context=self._tls)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _translate(self, exc: smtplib.SMTPResponseException) -> Exception:
        said = exc.smtp_error.decode(errors="replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        answer = f"{self._where}: SMTP {exc.smtp_code} {' '.join(said.split())[:200]}"
        if exc.smtp_code < 500:
            return SinkUnavailable(f"{answer}; will retry")
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return SinkRejected(f"{answer}; not retried: the server refused the login, check "
                                f"username and password in secrets entry {self.sink.secret!r}")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return SinkRejected(f"{answer}; not retried: check the sink's sender address")
        return SinkRejected(f"{answer}; not retried: the server refused the message")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
