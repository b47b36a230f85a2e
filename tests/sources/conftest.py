"""Fixtures for the source tests: a simulated clock, a real JPEG, a quarantine."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fieldagent.sources.quarantine import Quarantine
from tests.support.clock import SimClock

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimClock:
    """Stands still until the test advances it."""
    return SimClock(T0)


@pytest.fixture(scope="session")
def jpeg() -> bytes:
    """A small real JPEG (a green gradient), as a camera would send it."""
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 2, 100 + y * 2, x + y], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture
def quarantine(tmp_path: Path, clock: SimClock) -> Quarantine:
    return Quarantine(tmp_path / "quarantine", clock, keep_bytes=10_000_000)
