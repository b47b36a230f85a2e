"""The signal table is the single declaration of every signal the agent emits."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from fieldagent.signals import SIGNALS, signal_names
from fieldagent.signals.baseline import ZoneHistory
from fieldagent.signals.compute import compute_signals
from fieldagent.signals.config import SignalsConfig


def emitted_keys() -> set[str]:
    """Every key compute_signals and ZoneHistory.update return, learning and learnt."""
    rng = np.random.default_rng(0)
    rgb = rng.random((20, 20, 3)).astype(np.float32)
    mask = rng.random((20, 20)) < 0.5
    keys = set(compute_signals(rgb, mask, nir_crop=rgb[..., 1], mm_per_px=0.1))
    history = ZoneHistory(SignalsConfig(min_baseline=2))
    for hour in range(4):
        signals = compute_signals(rgb, mask)
        keys |= set(history.update(datetime(2026, 1, 1, hour, tzinfo=UTC), signals,
                                   trusted=True).derived)
    return keys


def test_every_emitted_signal_is_in_the_table_and_nothing_else() -> None:
    assert emitted_keys() == set(signal_names())


def test_table_entries_are_unique_and_complete() -> None:
    names = signal_names()
    assert len(names) == len(set(names))
    for spec in SIGNALS:
        assert spec.name.isidentifier() and spec.unit and len(spec.method) > 20, spec


def test_colour_bins_in_the_table_follow_the_config_defaults() -> None:
    methods = {s.name: s.method for s in SIGNALS}
    assert "[65, 170) deg" in methods["green_fraction"]
    assert "[40, 65) deg" in methods["yellow_fraction"]
