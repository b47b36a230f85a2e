"""Fixtures for the sink tests: real HTTP and SMTP receivers on 127.0.0.1, dispatchers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldagent.config.secrets import SecretStore
from fieldagent.sinks import AlertDispatcher, DeliveryConfig
from tests.sinks.factories import T0, TZ
from tests.sinks.servers import Mailbox, Receiver, SmtpServer
from tests.support.clock import SimClock

MakeDispatcher = Callable[..., AlertDispatcher]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """``requests`` honours proxy variables; the receivers here are on loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> SimClock:
    """The dispatcher's clock, at 10:05 local time; tests move it with ``advance``."""
    return SimClock(T0)


@pytest.fixture
def receivers() -> Iterator[Callable[[], Receiver]]:
    """Start as many HTTP receivers as a test needs; all are stopped afterwards."""
    started: list[Receiver] = []

    def start() -> Receiver:
        started.append(Receiver())
        return started[-1]

    yield start
    for r in started:
        r.close()


@pytest.fixture
def receiver(receivers: Callable[[], Receiver]) -> Receiver:
    return receivers()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, SmtpServer]]:
    """A plain aiosmtpd server (no TLS, no login), like a LAN relay."""
    box = Mailbox()
    server = SmtpServer(box, hostname="127.0.0.1", port=0)
    server.start()
    yield box, server
    server.stop()


@pytest.fixture
def make_dispatcher(tmp_path: Path, clock: SimClock) -> Iterator[MakeDispatcher]:
    """Build a dispatcher on ``tmp_path/alerts.db`` (the same file each call, as after a
    restart); every one built is closed at the end."""
    made: list[AlertDispatcher] = []

    def make(sinks: list[dict[str, Any]], *, secrets: SecretStore | None = None,
             rng: Callable[[], float] = lambda: 1.0, **config: Any) -> AlertDispatcher:
        cfg = DeliveryConfig.model_validate({"sinks": sinks, **config})
        d = AlertDispatcher(cfg, tmp_path / "alerts.db", secrets or SecretStore(environ={}),
                            TZ, clock, rng=rng)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
