"""Fixtures shared by more than one test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.uplink import MakeRig, UplinkRig, rig_factory


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[MakeRig]:
    """Build an ``UplinkRig`` (outbox, policy, simulated clock) under ``tmp_path``:
    ``make_rig(policy, start=T0, inline_max=None)``. Its outbox is closed after the test."""
    made: list[UplinkRig] = []
    yield rig_factory(tmp_path, made)
    for rig in made:
        rig.close()
