"""A camera's own normal: rolling medians of its quality metrics over recent good frames.

Every camera sees a different scene (soil trays read sharp, a white booth reads
soft and bright), so "is this frame worse than usual?" needs the camera's own
history. Medians, not means, so one odd frame that slipped through does not
move the baseline.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


class Baseline:
    """Recent values of a fixed set of metrics, fed only with frames judged good."""

    def __init__(self, names: Iterable[str], *, window: int, warmup: int) -> None:
        self.window = window
        self.warmup = warmup
        self._values: dict[str, deque[float]] = {n: deque(maxlen=window) for n in names}

    @property
    def frames(self) -> int:
        """How many good frames the baseline currently holds."""
        return min((len(v) for v in self._values.values()), default=0)

    @property
    def warm(self) -> bool:
        """True once enough good frames were seen for relative checks to be fair."""
        return self.frames >= self.warmup

    def update(self, metrics: Mapping[str, float]) -> None:
        """Add one good frame's metrics (names not tracked are ignored)."""
        for name, values in self._values.items():
            value = metrics.get(name)
            if value is not None and math.isfinite(value):
                values.append(float(value))

    def median(self, name: str) -> float | None:
        """The camera's usual value of ``name``, or None while warming up."""
        values = self._values.get(name)
        if not values or len(values) < self.warmup:
            return None
        return float(np.median(np.fromiter(values, dtype=np.float64)))

    def medians(self) -> dict[str, float]:
        """Every warm median, by metric name."""
        out = {n: self.median(n) for n in self._values}
        return {n: v for n, v in out.items() if v is not None}

    def clear(self) -> None:
        """Forget the history (after the camera was re-aimed or the scene rebuilt)."""
        for values in self._values.values():
            values.clear()

    def state(self) -> dict[str, list[float]]:
        """JSON-ready history."""
        return {n: list(v) for n, v in self._values.items()}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore a history saved by :meth:`state` (unknown metrics are dropped)."""
        for name, values in self._values.items():
            values.clear()
            values.extend(float(x) for x in state.get(name, []))
