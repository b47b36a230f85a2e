"""Each sink on its own: backoff, Retry-After, timeouts, permanent refusals, giving up."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from fieldagent.sinks.dispatch import backoff_seconds
from fieldagent.sinks.webhook import retry_after_seconds
from tests.sinks.conftest import MakeDispatcher
from tests.sinks.factories import email_sink, make_alert, webhook_sink
from tests.sinks.servers import Mailbox, Receiver, Reply, SmtpServer, wait_until
from tests.support.clock import SimClock


def test_failing_webhook_backs_off_while_email_goes_out_on_time(
    receiver: Receiver, smtp: tuple[Mailbox, SmtpServer], clock: SimClock,
    make_dispatcher: MakeDispatcher,
) -> None:
    box, server = smtp
    receiver.default = Reply(500, body=b"database locked")
    d = make_dispatcher([webhook_sink(receiver.url), email_sink(server.port)])
    d.submit(make_alert(zone="A-1"))
    waits = []
    for _ in range(3):
        report = d.deliver_due()
        hook = report.sink("hook")
        assert hook is not None and hook.retry_at is not None
        assert "HTTP 500" in (hook.error or "") and "database locked" in (hook.error or "")
        waits.append((hook.retry_at - clock.now).total_seconds())
        attempts = len(receiver.requests)
        again = d.deliver_due().sink("hook")
        assert again is not None and again.retry_at == hook.retry_at
        assert len(receiver.requests) == attempts  # backing off: not tried again early
        clock.now = hook.retry_at
    assert waits == [5.0, 10.0, 20.0]  # exponential from backoff_min_seconds (jitter at 1.0)
    assert len(box.wait_for(1)) == 1  # the e-mail went out in the first round

    d.submit(make_alert(zone="A-2"))  # a new alert while the webhook is still failing
    report = d.deliver_due()
    assert report.sink("office") is not None and report.sink("office").delivered == 1
    assert len(box.mails) == 2
    receiver.default = Reply(200)
    clock.advance(seconds=40)
    assert d.deliver_due().sink("hook").delivered == 2  # type: ignore[union-attr]
    status = d.status()
    assert status["hook"]["delivered"] == 2 and status["hook"]["consecutive_failures"] == 0
    assert status["hook"]["last_success_at"] == clock.now.isoformat()
    assert status["office"]["delivered"] == 2 and status["office"]["last_error"] is None


def test_backoff_grows_is_capped_and_jittered_within_bounds() -> None:
    def run(rng: Callable[[], float]) -> list[float]:
        return [backoff_seconds(n, low=5, high=60, rng=rng) for n in range(1, 8)]

    top, bottom = run(lambda: 1.0), run(lambda: 0.0)
    assert top == [5, 10, 20, 40, 60, 60, 60]
    assert all(b <= t for b, t in zip(bottom, top, strict=True))
    assert all(b >= 5 and b >= t / 2 for b, t in zip(bottom, top, strict=True))
    assert top == sorted(top)


def test_retry_after_is_honoured(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    receiver.answer(Reply(429, headers={"Retry-After": "120"}))
    d = make_dispatcher([webhook_sink(receiver.url)])
    d.submit(make_alert())
    hook = d.deliver_due().sink("hook")
    assert hook is not None and hook.retry_at == clock.now + timedelta(seconds=120)
    clock.advance(seconds=119)
    d.deliver_due()
    assert len(receiver.requests) == 1
    clock.advance(seconds=1)
    assert d.deliver_due().delivered == 1


def test_retry_after_as_an_http_date_counts_from_the_servers_date() -> None:
    headers = {"Date": "Mon, 01 Jun 2026 08:05:00 GMT",
               "Retry-After": "Mon, 01 Jun 2026 08:06:30 GMT"}
    assert retry_after_seconds(headers) == 90.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_a_hanging_sink_delays_no_other_sink(
    receivers: Callable[[], Receiver], smtp: tuple[Mailbox, SmtpServer],
    make_dispatcher: MakeDispatcher,
) -> None:
    box, server = smtp
    slow, fast = receivers(), receivers()
    slow.default = Reply(hang=5.0)
    d = make_dispatcher([webhook_sink(slow.url, id="slow", timeout_seconds=0.5),
                         webhook_sink(fast.url, id="fast"), email_sink(server.port)])
    d.submit(make_alert())
    start = time.monotonic()
    report = d.deliver_due()
    took = time.monotonic() - start
    # both arrive before the slow sink's timeout: nobody waited for it (it is listed first)
    assert fast.wait_for(1)[0].at - start < 0.45
    assert box.wait_for(1)[0].at - start < 0.45
    assert 0.5 <= took < 1.5  # the round lasts the slow sink's timeout, not more
    assert report.delivered == 2
    slow_round = report.sink("slow")
    assert slow_round is not None and "no answer within 0.5 s" in (slow_round.error or "")


def test_a_round_returns_at_max_seconds_and_the_slow_attempt_finishes_alone(
    receivers: Callable[[], Receiver], smtp: tuple[Mailbox, SmtpServer],
    make_dispatcher: MakeDispatcher,
) -> None:
    box, server = smtp
    slow = receivers()
    slow.default = Reply(hang=5.0)
    d = make_dispatcher([webhook_sink(slow.url, id="slow", timeout_seconds=10.0),
                         email_sink(server.port)])
    d.submit(make_alert())
    start = time.monotonic()
    report = d.deliver_due(max_seconds=0.3)
    assert time.monotonic() - start < 0.8
    assert report.unfinished == ("slow",) and report.delivered == 1
    d.submit(make_alert(zone="C-3"))
    again = d.deliver_due(max_seconds=0.3)  # the busy sink is not started a second time
    assert again.unfinished == ("slow",) and again.delivered == 1
    assert len(slow.requests) == 1 and d.status()["slow"]["sending"]
    slow.release.set()  # the receiver answers 200 now
    wait_until(lambda: d.status()["slow"]["delivered"] == 1)
    assert d.deliver_due().sink("slow").delivered == 1  # type: ignore[union-attr]
    assert len(box.mails) == 2


@pytest.mark.parametrize(
    ("reply", "hint"),
    [
        (Reply(400, body=b'{"error": "unknown field evidence_key"}'),
         "unknown field evidence_key"),
        (Reply(401), "the receiver needs credentials: add a secret"),
        (Reply(404), "check the sink's url"),
        (Reply(413), "set attach_evidence: false"),
        (Reply(302, headers={"Location": "https://hooks.example/secret-path"}),
         "redirects to https://hooks.example;"),
    ],
    ids=["400", "401", "404", "413", "302"],
)
def test_a_refusal_is_permanent_and_says_what_to_fix(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher, reply: Reply, hint: str
) -> None:
    receiver.answer(reply)
    d = make_dispatcher([webhook_sink(receiver.url)])
    d.submit(make_alert())
    report = d.deliver_due()
    assert report.failed == 1
    error = d.status()["hook"]["last_error"]
    assert f"HTTP {reply.status}" in error and "not retried" in error and hint in error
    assert "secret-topic" not in error and "secret-path" not in error  # no URL paths
    clock.advance(hours=1)
    d.deliver_due()
    assert len(receiver.requests) == 1
    assert d.status()["hook"]["failed"] == 1 and d.status()["hook"]["pending"] == 0


def test_gives_up_after_retry_max_minutes_with_the_last_error(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    receiver.default = Reply(503)
    d = make_dispatcher([webhook_sink(receiver.url)], retry_max_minutes=2)
    d.submit(make_alert())
    start = clock.now
    for _ in range(10):
        hook = d.deliver_due().sink("hook")
        assert hook is not None
        if hook.gave_up:
            break
        assert hook.retry_at is not None
        clock.now = hook.retry_at
    assert hook.gave_up == 1
    assert clock.now - start >= timedelta(minutes=2)
    status = d.status()["hook"]
    assert status["failed"] == 1 and status["pending"] == 0
    attempts = len(receiver.requests)
    clock.advance(hours=1)
    d.deliver_due()
    assert len(receiver.requests) == attempts


def test_an_unreachable_receiver_is_retried_with_the_reason(
    clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens on that port any more
    d = make_dispatcher([webhook_sink(url)])
    d.submit(make_alert())
    hook = d.deliver_due().sink("hook")
    assert hook is not None and hook.retry_at is not None
    assert "cannot reach the receiver (Connection refused)" in (hook.error or "")
    assert d.status()["hook"]["pending"] == 1


def test_an_answer_even_a_refusal_ends_the_backoff(
    receiver: Receiver, clock: SimClock, make_dispatcher: MakeDispatcher
) -> None:
    receiver.answer(Reply(503, body=b"<html><body><h1>Service Unavailable</h1></body></html>"),
                    Reply(400, body=b"bad payload"))
    d = make_dispatcher([webhook_sink(receiver.url)])
    d.submit(make_alert())
    hook = d.deliver_due().sink("hook")
    assert hook is not None and hook.retry_at is not None
    assert "HTTP 503 Service Unavailable (Service Unavailable); will retry" in (hook.error or "")
    clock.now = hook.retry_at
    d.submit(make_alert(zone="D-4"))
    report = d.deliver_due()
    assert report.failed == 1 and report.delivered == 1  # refused one, the next accepted
    status = d.status()["hook"]
    assert status["consecutive_failures"] == 0 and status["retry_at"] is None
