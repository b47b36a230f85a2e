"""Each zone against its own past: growth rate, hue shift, robust z-scores, stress score.

Absolute colour thresholds do not transfer between cameras, crops and lights,
so a zone is compared with its *own* healthy reference.

**Learning.** The first ``min_baseline`` trusted images form the reference.
Then its noise *scale* (1.4826 x MAD per signal, floored by the ``min_scale_*``
settings so a very quiet start cannot make every wobble look huge) is frozen.

**Not learning stress as normal.** After that, a trusted image refreshes the
reference (a rolling window of ``baseline_window`` images whose *median* is
the centre) only when its ``stress_score`` is at most ``refresh_max_score``.
The median lags the newest images by about half a window, so a drift keeps
being absorbed only while it stays under ``refresh_max_score`` scales per half
window (e.g. ~1.5 % yellow leaf share per 30 images with the defaults);
anything faster pushes the score up, the refresh stops and the reference stays
frozen at the healthy state until the zone recovers.  The frozen scale matters
too: re-estimating it from the gated window would shrink it over time.

**Score.** Directional z-scores, positive in the direction of stress:
``z_gcc_p90`` (greenness down), ``z_yellow_fraction`` and ``z_brown_fraction``
(up), ``z_hue_shift`` (hue moving down toward yellow and red) and ``z_area``
(plant shrinking, on ln area).  ``stress_score = max(0, max z)``: 0 is "like its
own baseline", above 3 is clearly abnormal on at least one signal.

**Segmentation suspect.** A plant does not lose ``1 - collapse_ratio`` of its
area between images while its colour stays the same: wilting shrinks the top
view less than that, and dying tissue turns brown or yellow first (the mask
keeps that tissue, and the colour z-scores move).  A collapse with unchanged
colour (or no plant left to judge colour on) is far more likely the mask
failing (lights off, a hand, shadow, a zone on the wrong pot) or the plant
being removed, so it is flagged ``segmentation_suspect``; its area is left out
of the score and the image is not learned from.  A collapse *with* a colour
change is real stress and counts.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from fieldagent.signals.config import SignalsConfig

NAN = float("nan")
FLAG_LEARNING = "baseline_learning"
FLAG_SUSPECT = "segmentation_suspect"
# feature -> (z-score name, direction: +1 when a rise means stress)
_Z = {
    "gcc_p90": ("z_gcc_p90", -1.0),
    "yellow_fraction": ("z_yellow_fraction", 1.0),
    "brown_fraction": ("z_brown_fraction", 1.0),
    "hue_mean_deg": ("z_hue_shift", -1.0),
    "log_area": ("z_area", -1.0),
}
COLOUR_FEATURES = ("gcc_p90", "yellow_fraction", "brown_fraction", "hue_mean_deg")
DERIVED = ("growth_rate", "hue_shift_deg", "stress_score", *(z for z, _ in _Z.values()))
_MAD_TO_SIGMA = 1.4826
_SECONDS_PER_DAY = 86_400.0
_MAX_FIT_POINTS = 150  # Theil-Sen is O(n^2): longer series are thinned evenly
_STATE_VERSION = 1


@dataclass(frozen=True)
class ZoneUpdate:
    """What one image adds to the zone's signals: derived values and flags."""

    derived: dict[str, float]
    flags: tuple[str, ...]


class ZoneHistory:
    """Rolling history of one zone: healthy reference for z-scores, area series for growth."""

    def __init__(self, config: SignalsConfig) -> None:
        self.config = config
        self._ref: deque[dict[str, float]] = deque(maxlen=config.baseline_window)
        self._scale: dict[str, float] | None = None
        self._areas: list[tuple[float, float]] = []  # (unix seconds, ln area)

    @property
    def learning(self) -> bool:
        """True until the reference has ``min_baseline`` trusted images."""
        return self._scale is None

    def update(
        self, timestamp: datetime, signals: Mapping[str, float], *, trusted: bool
    ) -> ZoneUpdate:
        """Derive this image's history-based signals; learn from it when it is trusted.

        Untrusted images (failed quality checks) get the same derived values but
        never change the reference or the area series.
        """
        t = _epoch(timestamp)
        feats = _features(signals)
        derived = dict.fromkeys(DERIVED, NAN)
        derived["growth_rate"] = self._growth_rate(t, feats["log_area"])
        flags: list[str] = []
        suspect = False
        if self._scale is None:
            flags.append(FLAG_LEARNING)
        else:
            centre = self._centre()
            derived.update(self._zscores(feats, centre, self._scale))
            suspect = self._collapsed(feats, centre, derived)
            derived["stress_score"] = _score(derived, exclude_area=suspect)
        if suspect:
            flags.append(FLAG_SUSPECT)
        if trusted and not suspect:
            self._learn(t, feats, derived["stress_score"])
        return ZoneUpdate(derived, tuple(flags))

    @staticmethod
    def _zscores(
        feats: Mapping[str, float], centre: Mapping[str, float], scale: Mapping[str, float]
    ) -> dict[str, float]:
        """Directional robust z-scores against the reference, and the hue shift."""
        out: dict[str, float] = {}
        for key, (zname, sign) in _Z.items():
            if key == "hue_mean_deg":
                diff = _hue_diff(feats[key], centre[key])
                out["hue_shift_deg"] = diff
            else:
                diff = feats[key] - centre[key]
            out[zname] = sign * diff / scale[key]
        return out

    def _collapsed(
        self, feats: Mapping[str, float], centre: Mapping[str, float], z: Mapping[str, float]
    ) -> bool:
        """Area fell below ``collapse_ratio`` of the reference while the colour stayed put."""
        ref_area = centre["log_area"]
        if math.isnan(ref_area):
            return False
        area = feats["log_area"]
        if not math.isnan(area) and area - ref_area >= math.log(self.config.collapse_ratio):
            return False
        colour = [abs(z[_Z[k][0]]) for k in COLOUR_FEATURES if not math.isnan(z[_Z[k][0]])]
        return all(c <= self.config.colour_change_z for c in colour)

    def _learn(self, t: float, feats: dict[str, float], score: float) -> None:
        if math.isnan(feats["log_area"]):
            return  # no plant: nothing to learn about its size or colour
        self._add_area(t, feats["log_area"])
        if self._scale is None:
            self._ref.append(feats)
            if len(self._ref) >= self.config.min_baseline:
                self._scale = self._estimate_scale()
        elif not math.isnan(score) and score <= self.config.refresh_max_score:
            self._ref.append(feats)

    def _add_area(self, t: float, log_area: float) -> None:
        self._areas.append((t, log_area))
        self._areas.sort()
        horizon = self._areas[-1][0] - self.config.growth_window_hours * 3600.0
        self._areas = [p for p in self._areas if p[0] >= horizon]

    def _centre(self) -> dict[str, float]:
        """Median of each feature over the reference (circular mean for hue)."""
        out = {k: _nanmedian([r[k] for r in self._ref]) for k in _Z if k != "hue_mean_deg"}
        out["hue_mean_deg"] = _circular_mean([r["hue_mean_deg"] for r in self._ref])
        return out

    def _estimate_scale(self) -> dict[str, float]:
        """Robust noise scale of each feature, floored (see the module docstring)."""
        cfg = self.config
        floors = {"gcc_p90": cfg.min_scale_gcc, "yellow_fraction": cfg.min_scale_fraction,
                  "brown_fraction": cfg.min_scale_fraction, "hue_mean_deg": cfg.min_scale_hue_deg,
                  "log_area": cfg.min_scale_log_area}
        centre = self._centre()
        scale = {}
        for key, floor in floors.items():
            values = [r[key] for r in self._ref]
            if key == "hue_mean_deg":
                dev = [_hue_diff(v, centre[key]) for v in values]
            else:
                dev = [v - centre[key] for v in values]
            mad = _nanmedian([abs(d) for d in dev])
            scale[key] = max(_MAD_TO_SIGMA * mad, floor) if not math.isnan(mad) else floor
        return scale

    def _growth_rate(self, t: float, log_area: float) -> float:
        """Relative growth per day: Theil-Sen slope of ln(area) over the growth window."""
        cfg = self.config
        points = [p for p in self._areas if t - cfg.growth_window_hours * 3600.0 <= p[0] <= t]
        if not math.isnan(log_area):
            points.append((t, log_area))
        if len(points) < cfg.growth_min_points:
            return NAN
        times = np.array([p[0] for p in points]) / _SECONDS_PER_DAY
        if (times.max() - times.min()) * 24.0 < max(cfg.growth_min_span_hours, 1e-6):
            return NAN
        return theil_sen_slope(times, np.array([p[1] for p in points]))

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (NaN stored as None), for restarts."""
        return {
            "version": _STATE_VERSION,
            "reference": [{k: _jsonable(v) for k, v in r.items()} for r in self._ref],
            "scale": self._scale,
            "areas": [[t, a] for t, a in self._areas],
        }

    @classmethod
    def from_state(cls, config: SignalsConfig, state: Mapping[str, Any]) -> ZoneHistory:
        """Rebuild a history saved by :meth:`state` (window length from ``config``)."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"zone history state version {state.get('version')!r} is unknown")
        history = cls(config)
        for row in state.get("reference", []):
            history._ref.append({k: NAN if v is None else float(v) for k, v in row.items()})
        scale = state.get("scale")
        history._scale = {k: float(v) for k, v in scale.items()} if scale else None
        if history._scale is None and len(history._ref) >= config.min_baseline:
            history._scale = history._estimate_scale()
        history._areas = [(float(t), float(a)) for t, a in state.get("areas", [])]
        return history


def _features(signals: Mapping[str, float]) -> dict[str, float]:
    """The values the reference tracks; area as ln(area), NaN when there is no plant."""
    out = {k: float(signals.get(k, NAN)) for k in COLOUR_FEATURES}
    area = float(signals.get("plant_area_px", NAN))
    out["log_area"] = math.log(area) if area > 0 else NAN
    return out


def _score(derived: Mapping[str, float], *, exclude_area: bool) -> float:
    zs = [derived[z] for key, (z, _) in _Z.items() if not (exclude_area and key == "log_area")]
    finite = [z for z in zs if not math.isnan(z)]
    return max(0.0, *finite) if finite else NAN


def theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Median of pairwise slopes: a line fit that shrugs off a few bad points."""
    if x.size > _MAX_FIT_POINTS:
        keep = np.linspace(0, x.size - 1, _MAX_FIT_POINTS).round().astype(int)
        x, y = x[keep], y[keep]
    i, j = np.triu_indices(x.size, k=1)
    dx = x[j] - x[i]
    ok = dx > 0
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else NAN


def _hue_diff(a: float, b: float) -> float:
    """Signed shortest angle from b to a, in (-180, 180] degrees."""
    return (a - b + 180.0) % 360.0 - 180.0 if not (math.isnan(a) or math.isnan(b)) else NAN


def _circular_mean(degrees: list[float]) -> float:
    rad = np.deg2rad([d for d in degrees if not math.isnan(d)])
    if not rad.size:
        return NAN
    return math.degrees(math.atan2(float(np.sin(rad).mean()), float(np.cos(rad).mean()))) % 360.0


def _nanmedian(values: list[float]) -> float:
    """Median ignoring NaN (plain Python: faster than numpy on a window of tens)."""
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else NAN


def _jsonable(value: float) -> float | None:
    return None if math.isnan(value) else value


def _epoch(timestamp: datetime) -> float:
    if timestamp.tzinfo is None:
        raise ValueError(
            f"timestamp {timestamp.isoformat()} has no time zone; pass an aware UTC datetime"
        )
    return timestamp.timestamp()
