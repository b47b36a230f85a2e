"""What the quality checks found, in a form the pipeline and a person can both use."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fieldagent.quality.config import ALL_CHECKS

# Flags are reported in this order: exposure first, it explains the others.
FLAG_NAMES: tuple[str, ...] = ALL_CHECKS


@dataclass(frozen=True)
class QualityFlag:
    """One failed check.

    ``blocking`` means the image's signals must not be trusted; only a small,
    correctable camera shift (``moved``, zones follow it) is non-blocking.
    """

    name: str
    metric: str
    value: float
    threshold: float
    blocking: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "metric": self.metric,
            "value": round_metric(self.value),
            "threshold": round_metric(self.threshold),
            "blocking": self.blocking,
            "message": self.message,
        }


@dataclass(frozen=True)
class QualityReport:
    """The verdict on one frame.

    ``shift_xy`` is how far the scene moved in the image since the reference
    (analysis px, x right, y down): add it to zone coordinates. It is (0, 0)
    when the shift could not be measured (no reference yet, dark frame).
    """

    ok: bool
    flags: tuple[QualityFlag, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    shift_xy: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        # Frozen means frozen: nobody downstream may edit the metrics in place.
        rounded = {k: round_metric(v) for k, v in self.metrics.items()}
        object.__setattr__(self, "metrics", MappingProxyType(rounded))

    @property
    def flag_names(self) -> tuple[str, ...]:
        """Names of the raised flags, in check order."""
        return tuple(f.name for f in self.flags)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ok, flags, metrics and ``shift_px`` as [x, y]."""
        return {
            "ok": self.ok,
            "flags": [f.to_dict() for f in self.flags],
            "metrics": dict(self.metrics),
            "shift_px": [round(self.shift_xy[0], 2), round(self.shift_xy[1], 2)],
        }


def round_metric(value: float, digits: int = 4) -> float:
    """Round to ``digits`` significant figures: Laplacian variances are ~1e-3, shifts ~1e2."""
    v = float(value)
    if v == 0.0 or not math.isfinite(v):
        return v
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))
