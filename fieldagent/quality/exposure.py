"""Exposure against the camera's own usual brightness at this time of day.

A frame at 30 % of the camera's normal brightness can stay above the absolute
``dark`` threshold and clip nothing, yet its colours are noisy and its
signals shift. What is normal depends on the hour (dawn is dim, noon bright,
shade screens close at midday), so the camera's usual mean luminance is kept
per hour of the day: the median of recent good frames in that hour and its
two neighbours. Pure data plus a small history; the verdict is
:func:`fieldagent.quality.rules.relative_exposure_flag`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

HOURS = 24


class HourlyLuminance:
    """Recent mean luminance of good frames, one short history per hour of the day."""

    def __init__(self, *, per_hour: int, min_samples: int) -> None:
        self.per_hour, self.min_samples = per_hour, min_samples
        self._bins: list[deque[float]] = [deque(maxlen=per_hour) for _ in range(HOURS)]

    def update(self, hour: float, luminance: float) -> None:
        """Add one good frame's mean luminance at local ``hour`` (0-24)."""
        if math.isfinite(luminance):
            self._bins[int(hour) % HOURS].append(float(luminance))

    def usual(self, hour: float) -> float | None:
        """Median over this hour and its neighbours, or None with too few frames there."""
        h = int(hour) % HOURS
        values = [v for d in (-1, 0, 1) for v in self._bins[(h + d) % HOURS]]
        if len(values) < self.min_samples:
            return None
        return float(np.median(values))

    def state(self) -> dict[str, list[float]]:
        """JSON-ready: the values of each hour that has any."""
        return {str(h): list(b) for h, b in enumerate(self._bins) if b}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`; hours outside 0-23 are refused."""
        for key, values in state.items():
            h = int(key)
            if not 0 <= h < HOURS:
                raise ValueError(f"hour {key!r} is outside 0-23")
            self._bins[h].clear()
            self._bins[h].extend(float(v) for v in values)
