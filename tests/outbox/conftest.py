"""Fixtures for the outbox tests: an outbox factory parametrized over every implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fieldagent.outbox import Limits, MemoryOutbox, Outbox, SqliteOutbox

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)

MakeOutbox = Callable[..., Outbox]


@pytest.fixture(params=["sqlite", "memory"])
def make_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeOutbox]:
    """Build an outbox of the parametrized implementation; closed at the end of the test.

    The SQLite one gets a small inline threshold so tests exercise spool files too.
    """
    made: list[Outbox] = []

    def make(limits: Limits | None = None, **kw: Any) -> Outbox:
        limits = limits or Limits.unlimited()
        box: Outbox
        if request.param == "sqlite":
            kw.setdefault("inline_max", 256)
            box = SqliteOutbox(tmp_path / f"box{len(made)}", limits=limits, clock=lambda: T0, **kw)
        else:
            box = MemoryOutbox(limits=limits, clock=lambda: T0, **kw)
        made.append(box)
        return box

    yield make
    for box in made:
        box.close()
