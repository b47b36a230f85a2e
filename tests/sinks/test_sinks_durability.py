"""The delivery store: idempotent submit, restarts, filters, evidence cap, locking, healing."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from fieldagent.sinks.store import SinkStoreLocked
from tests.sinks.conftest import MakeDispatcher
from tests.sinks.factories import email_sink, jpeg_bytes, make_alert, webhook_sink
from tests.sinks.servers import Mailbox, Receiver, Reply, SmtpServer
from tests.support.clock import SimClock


def test_submitting_the_same_alert_twice_delivers_once(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url)])
    alert = make_alert()
    d.submit(alert, jpeg_bytes())
    d.submit(alert, jpeg_bytes())
    assert d.status()["hook"]["pending"] == 1
    assert d.deliver_due().delivered == 1
    d.submit(alert)  # again after delivery, as a caller replaying after a crash would
    assert d.deliver_due().delivered == 0
    assert len(receiver.requests) == 1
    d.submit(make_alert("resolved"))  # the same episode's resolved is a new message
    assert d.deliver_due().delivered == 1


def test_no_resend_after_restart(
    receiver: Receiver, smtp: tuple[Mailbox, SmtpServer], make_dispatcher: MakeDispatcher
) -> None:
    box, server = smtp
    sinks = [webhook_sink(receiver.url), email_sink(server.port)]
    first = make_dispatcher(sinks)
    first.submit(make_alert(), jpeg_bytes())
    assert first.deliver_due().delivered == 2
    first.close()
    second = make_dispatcher(sinks)  # same database file, as after a restart
    second.submit(make_alert(), jpeg_bytes())
    assert second.deliver_due().delivered == 0
    assert len(receiver.requests) == 1 and len(box.mails) == 1
    assert second.status()["hook"]["delivered"] == 1


def test_pending_deliveries_continue_after_restart(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    receiver.answer(Reply(502))
    first = make_dispatcher([webhook_sink(receiver.url)])
    first.submit(make_alert(), jpeg_bytes())
    hook = first.deliver_due().sink("hook")
    assert hook is not None and hook.retry_at is not None
    first.close()
    second = make_dispatcher([webhook_sink(receiver.url)])
    assert second.status()["hook"]["retry_at"] == hook.retry_at.isoformat()  # backoff kept
    clock.now = hook.retry_at
    assert second.deliver_due().delivered == 1
    a, b = receiver.wait_for(2)
    assert a.body == b.body and a.headers["idempotency-key"] == b.headers["idempotency-key"]


def test_severity_and_resolved_filters_pick_the_sinks(
    receivers: Callable[[], Receiver], make_dispatcher: MakeDispatcher
) -> None:
    everything, loud, no_resolved = receivers(), receivers(), receivers()
    d = make_dispatcher([
        webhook_sink(everything.url, id="everything"),
        webhook_sink(loud.url, id="loud", min_severity="critical"),
        webhook_sink(no_resolved.url, id="no-resolved", min_severity="warning",
                     send_resolved=False),
    ])
    d.submit(make_alert(severity="info", zone="A"))
    d.submit(make_alert(severity="warning", zone="B"))
    d.submit(make_alert(severity="critical", zone="C"))
    d.submit(make_alert("resolved", severity="critical", zone="C"))
    d.deliver_due()
    zones = {name: [(r.headers["idempotency-key"], r.body) for r in rec.requests]
             for name, rec in [("everything", everything), ("loud", loud),
                               ("no-resolved", no_resolved)]}
    assert len(zones["everything"]) == 4
    assert len(zones["loud"]) == 2  # critical raised and resolved
    assert len(zones["no-resolved"]) == 2  # warning and critical, no resolved
    assert all(b'"state": "raised"' in body for _, body in zones["no-resolved"])


def test_oversized_evidence_is_dropped_and_the_alert_still_goes(
    smtp: tuple[Mailbox, SmtpServer], make_dispatcher: MakeDispatcher, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    box, server = smtp
    big = jpeg_bytes(size=400)
    assert len(big) > 2048
    d = make_dispatcher([email_sink(server.port)], max_evidence_kb=2)
    with caplog.at_level(logging.WARNING):
        d.submit(make_alert(), big, "cloud/key.jpg")
    assert "above max_evidence_kb=2" in caplog.text
    assert d.deliver_due().delivered == 1
    msg = box.wait_for(1)[0].message
    assert not list(msg.iter_attachments())
    body = msg.get_body(("plain",))
    assert body is not None
    assert "not attached (cloud copy: cloud/key.jpg)" in body.get_content()


def test_evidence_is_forgotten_once_every_sink_has_it(
    receivers: Callable[[], Receiver], clock: SimClock, make_dispatcher: MakeDispatcher,
    tmp_path: Path,
) -> None:
    ok, failing = receivers(), receivers()
    failing.answer(Reply(500))
    d = make_dispatcher([webhook_sink(ok.url, id="ok"), webhook_sink(failing.url, id="later")])
    d.submit(make_alert(), jpeg_bytes())

    def stored() -> int:
        with sqlite3.connect(tmp_path / "alerts.db") as conn:
            return int(conn.execute("SELECT count(evidence) FROM alerts").fetchone()[0])

    retry_at = d.deliver_due().sink("later").retry_at  # type: ignore[union-attr]
    assert stored() == 1  # "later" still needs it
    assert retry_at is not None
    clock.now = retry_at
    assert d.deliver_due().delivered == 1
    assert stored() == 0


def test_deliveries_to_a_removed_sink_are_failed_not_kept_forever(
    receivers: Callable[[], Receiver], make_dispatcher: MakeDispatcher, tmp_path: Path
) -> None:
    kept, removed = receivers(), receivers()
    first = make_dispatcher([webhook_sink(kept.url, id="kept"),
                             webhook_sink(removed.url, id="removed")])
    first.submit(make_alert())
    first.close()
    second = make_dispatcher([webhook_sink(kept.url, id="kept")])
    assert second.deliver_due().delivered == 1
    with sqlite3.connect(tmp_path / "alerts.db") as conn:
        (status, error), = conn.execute(
            "SELECT status, last_error FROM deliveries WHERE sink = 'removed'").fetchall()
    assert status == "failed" and "no longer in the config" in error
    assert not removed.requests


def test_finished_deliveries_are_pruned_after_history_days(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url)], history_days=1)
    d.submit(make_alert())
    d.deliver_due()
    assert d.status()["hook"]["delivered"] == 1
    clock.advance(days=2)
    d.deliver_due()
    assert d.status()["hook"]["delivered"] == 0


def test_one_process_owns_the_store(receiver: Receiver, make_dispatcher: MakeDispatcher) -> None:
    make_dispatcher([webhook_sink(receiver.url)])
    with pytest.raises(SinkStoreLocked, match="only one fieldagent process"):
        make_dispatcher([webhook_sink(receiver.url)])


def test_a_corrupt_store_is_quarantined_and_delivery_goes_on(
    receiver: Receiver, make_dispatcher: MakeDispatcher, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "alerts.db").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING):
        d = make_dispatcher([webhook_sink(receiver.url)])
    assert "is corrupt" in caplog.text
    assert len(list((tmp_path / "quarantine").iterdir())) == 1
    d.submit(make_alert())
    assert d.deliver_due().delivered == 1


def test_run_loop_delivers_right_after_submit_and_stops_on_close(
    receiver: Receiver, make_dispatcher: MakeDispatcher
) -> None:
    d = make_dispatcher([webhook_sink(receiver.url)])
    stop = threading.Event()
    loop = threading.Thread(target=d.run, args=(stop,), kwargs={"idle_seconds": 30.0})
    loop.start()
    try:
        d.submit(make_alert())
        receiver.wait_for(1, timeout=2.0)  # far sooner than idle_seconds: submit wakes it
    finally:
        stop.set()
        d.close()
        loop.join(timeout=2.0)
    assert not loop.is_alive()


def test_status_reports_every_configured_sink(
    receiver: Receiver, smtp: tuple[Mailbox, SmtpServer], clock: SimClock,
    make_dispatcher: MakeDispatcher,
) -> None:
    _, server = smtp
    d = make_dispatcher([webhook_sink(receiver.url), email_sink(server.port)])
    status = d.status()
    assert set(status) == {"hook", "office"}
    assert status["office"] == {
        "kind": "email", "pending": 0, "held": 0, "delivered": 0, "failed": 0,
        "oldest_pending_seconds": None, "consecutive_failures": 0, "retry_at": None,
        "last_error": None, "last_error_at": None, "last_success_at": None, "sending": False,
    }
    receiver.default = Reply(500)
    d.submit(make_alert())
    d.deliver_due()
    clock.advance(seconds=3)
    hook = d.status()["hook"]
    assert hook["pending"] == 1 and hook["consecutive_failures"] == 1
    assert hook["oldest_pending_seconds"] == pytest.approx(3.0)
    assert hook["last_error_at"] == (clock.now - timedelta(seconds=3)).isoformat()
