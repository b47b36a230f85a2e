"""What the agent has done since it started: counts, model latency and confidence drift.

``AgentStats`` is fed every ``ImageResult`` (``observe_image``) by the agent loop and read
by the heartbeat job and the Prometheus endpoint from other threads, so every method takes
one lock and ``snapshot`` returns frozen values: the heartbeat and a scrape taken at the
same moment show the same numbers.

Memory is bounded: sliding windows are ``deque``s with a ``maxlen``; counters are keyed by
camera, status, rejection reason and quality flag, all small fixed sets.

Confidence drift
----------------
The figure is the **population stability index** (PSI) of the model's top-class
probability: the reference histogram is the first ``drift_window`` trusted outputs after
start (or after ``reset_reference`` / a model switch), the recent histogram the last
``drift_window`` outputs, binned at the reference's deciles (``bins`` equal-mass bins)::

    PSI = sum_i (recent_i - reference_i) * ln(recent_i / reference_i)

Why PSI and not a difference of means in standard errors: a z-score measures how *sure*
we are that something changed, and it grows with the window size for the same change; PSI
measures how *much* the distribution changed, so one threshold holds for any window. It
also sees a change of shape that leaves the mean alone (a model that becomes bimodal:
sure of some crops, lost on others). Each term is >= 0, so PSI is 0 for identical
histograms and grows with the shift. The customary reading: < 0.1 no real change,
0.1-0.25 a moderate shift, > 0.25 a significant one. Two samples of the *same*
distribution give about ``(bins - 1) * (1/n_reference + 1/n_recent)`` from sampling noise
alone (0.06 for 10 bins and 300 + 300 outputs), which is why the windows are not tiny.
Empty bins get half a count so the logarithm stays finite.

Only outputs on trusted regions count (an image that failed quality gives crops of fog or
darkness; the model being unsure about them is not drift).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from fieldagent.quality.report import FLAG_NAMES
from fieldagent.telemetry.config import TelemetryConfig

if TYPE_CHECKING:  # the config and the pipeline import this package: no cycle at run time
    from fieldagent.pipeline import ImageResult

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MODEL_STAGE = "model"  # the key of the model stage in ``ImageResult.timings_ms``


@dataclass(frozen=True)
class LatencySummary:
    """Model stage time per image (all of one image's crops in one run), in milliseconds.

    ``p50_ms``/``p95_ms`` are over the last ``latency_window`` runs (None before the first
    run); ``baseline_p95_ms`` is the p95 of the first ``latency_baseline`` runs after start
    or a model switch (None until that many ran). ``count``/``sum_ms`` run since start.
    """

    p50_ms: float | None
    p95_ms: float | None
    samples: int
    baseline_p95_ms: float | None
    baseline_samples: int
    count: int
    sum_ms: float

    @property
    def ratio(self) -> float | None:
        """Recent p95 over baseline p95: the throttling figure."""
        if self.p95_ms is None or not self.baseline_p95_ms:
            return None
        return self.p95_ms / self.baseline_p95_ms


@dataclass(frozen=True)
class DriftSummary:
    """The model's confidence now versus its reference (module docstring).

    ``psi`` is None until both windows hold ``window`` outputs.
    """

    psi: float | None
    reference_n: int
    recent_n: int
    window: int
    confidence_mean_reference: float | None
    confidence_mean_recent: float | None
    entropy_mean_reference: float | None
    entropy_mean_recent: float | None
    model_version: str | None
    reference_started_at: datetime


@dataclass(frozen=True)
class StatsSnapshot:
    """The stats at one moment. ``*_interval`` count since ``interval_started_at``.

    ``images_*`` are ``{camera: {status: n}}``; ``quality_checked_*`` count analysed
    images (status ok) and ``quality_flags_*`` how many of them raised each flag (every
    flag of ``quality.report.FLAG_NAMES`` is present, zeros included).
    """

    at: datetime
    started_at: datetime
    interval_started_at: datetime
    images_total: dict[str, dict[str, int]]
    images_interval: dict[str, dict[str, int]]
    rejected_total: dict[str, int]
    last_image_at: dict[str, datetime]
    quality_checked_total: int
    quality_checked_interval: int
    quality_flags_total: dict[str, int]
    quality_flags_interval: dict[str, int]
    model_outputs_total: int
    latency: LatencySummary
    drift: DriftSummary

    @property
    def uptime_s(self) -> float:
        return (self.at - self.started_at).total_seconds()

    def quality_fail_rates(self) -> dict[str, float | None]:
        """Fraction of the interval's analysed images that raised each flag (None: none)."""
        n = self.quality_checked_interval
        return {f: (c / n if n else None) for f, c in self.quality_flags_interval.items()}


class AgentStats:
    """Thread-safe running figures of one agent (module docstring).

    Parameters
    ----------
    clock
        Returns the current aware UTC time; the only source of time.
    latency_window, latency_baseline
        Model runs in the sliding latency window; in the latency baseline.
    drift_window, drift_bins
        Outputs in each drift window; bins of the confidence histograms.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        latency_window: int = 120,
        latency_baseline: int = 30,
        drift_window: int = 300,
        drift_bins: int = 10,
    ) -> None:
        if min(latency_window, latency_baseline) < 1 or min(drift_window, drift_bins) < 2:
            raise ValueError(
                "AgentStats needs latency_window and latency_baseline >= 1, drift_window and "
                f"drift_bins >= 2; got {latency_window}, {latency_baseline}, {drift_window}, "
                f"{drift_bins}"
            )
        self._clock, self._bins, self._drift_window = clock, drift_bins, drift_window
        self._lock = threading.Lock()
        self.started_at = self._interval_start = clock()
        self._images: Counter[tuple[str, str]] = Counter()
        self._images_iv: Counter[tuple[str, str]] = Counter()
        self._rejected: Counter[str] = Counter()
        self._last_image: dict[str, datetime] = {}
        self._checked, self._checked_iv = 0, 0
        self._flags: Counter[str] = Counter()
        self._flags_iv: Counter[str] = Counter()
        self._outputs, self._lat_count, self._lat_sum = 0, 0, 0.0
        self._lat_recent: deque[float] = deque(maxlen=latency_window)
        self._lat_base: deque[float] = deque(maxlen=latency_baseline)
        self._ref_conf: deque[float] = deque(maxlen=drift_window)
        self._ref_ent: deque[float] = deque(maxlen=drift_window)
        self._cur_conf: deque[float] = deque(maxlen=drift_window)
        self._cur_ent: deque[float] = deque(maxlen=drift_window)
        self._model_version: str | None = None
        self._reference_at = self.started_at

    @classmethod
    def from_config(cls, config: TelemetryConfig, clock: Clock) -> AgentStats:
        return cls(
            clock,
            latency_window=config.latency_window,
            latency_baseline=config.latency_baseline_runs,
            drift_window=config.drift_window,
            drift_bins=config.drift_bins,
        )

    def observe_image(self, result: ImageResult) -> None:
        """Count one image and take its model latency and confidences."""
        now = self._clock()
        outputs = [r.model for r in result.results if r.model is not None]
        trusted = [r.model for r in result.results if r.model is not None and r.trusted]
        with self._lock:
            key = (result.camera, result.status)
            self._images[key] += 1
            self._images_iv[key] += 1
            self._last_image[result.camera] = now
            if result.status != "ok":
                self._rejected[result.reason or "unknown"] += 1
            if result.quality is not None:
                self._count_quality(result.quality.flag_names)
            if outputs:
                self._switch_model_if_new(outputs[0].model_version)
                self._outputs += len(outputs)
                self._add_latency(result.timings_ms.get(MODEL_STAGE))
            for out in trusted:
                self._add_output(out.confidence, out.entropy)

    def reset_reference(self) -> None:
        """Start the latency baseline and the drift reference over (e.g. a new model)."""
        with self._lock:
            self._reset_reference_locked()

    def snapshot(self) -> StatsSnapshot:
        """The figures now; reading does not change them."""
        with self._lock:
            return self._snapshot_locked(self._clock())

    def heartbeat_snapshot(self) -> StatsSnapshot:
        """The figures now, then a new interval starts: call once per heartbeat."""
        with self._lock:
            snap = self._snapshot_locked(self._clock())
            self._interval_start = snap.at
            self._images_iv.clear()
            self._flags_iv.clear()
            self._checked_iv = 0
            return snap

    # -- inside the lock ------------------------------------------------------------

    def _count_quality(self, flags: Sequence[str]) -> None:
        self._checked += 1
        self._checked_iv += 1
        for flag in set(flags):
            self._flags[flag] += 1
            self._flags_iv[flag] += 1

    def _switch_model_if_new(self, version: str) -> None:
        if version != self._model_version:
            if self._model_version is not None:
                log.info(
                    "model changed from %s to %s: latency baseline and drift reference "
                    "start over", self._model_version, version,
                )
            self._model_version = version
            self._reset_reference_locked()

    def _reset_reference_locked(self) -> None:
        for window in (self._lat_recent, self._lat_base, self._ref_conf, self._ref_ent,
                       self._cur_conf, self._cur_ent):
            window.clear()
        self._reference_at = self._clock()

    def _add_latency(self, ms: float | None) -> None:
        if ms is None or not np.isfinite(ms):
            return
        self._lat_count += 1
        self._lat_sum += ms
        self._lat_recent.append(ms)
        if len(self._lat_base) < (self._lat_base.maxlen or 0):
            self._lat_base.append(ms)

    def _add_output(self, confidence: float, entropy: float) -> None:
        if len(self._ref_conf) < self._drift_window:
            self._ref_conf.append(confidence)
            self._ref_ent.append(entropy)
        self._cur_conf.append(confidence)
        self._cur_ent.append(entropy)

    def _snapshot_locked(self, now: datetime) -> StatsSnapshot:
        return StatsSnapshot(
            at=now,
            started_at=self.started_at,
            interval_started_at=self._interval_start,
            images_total=_by_camera(self._images),
            images_interval=_by_camera(self._images_iv),
            rejected_total=dict(sorted(self._rejected.items())),
            last_image_at=dict(sorted(self._last_image.items())),
            quality_checked_total=self._checked,
            quality_checked_interval=self._checked_iv,
            quality_flags_total=_all_flags(self._flags),
            quality_flags_interval=_all_flags(self._flags_iv),
            model_outputs_total=self._outputs,
            latency=self._latency_locked(),
            drift=self._drift_locked(),
        )

    def _latency_locked(self) -> LatencySummary:
        p50 = p95 = base = None
        if self._lat_recent:
            p50, p95 = (float(v) for v in np.percentile(list(self._lat_recent), [50, 95]))
        if len(self._lat_base) == self._lat_base.maxlen:
            base = float(np.percentile(list(self._lat_base), 95))
        return LatencySummary(p50, p95, len(self._lat_recent), base, len(self._lat_base),
                              self._lat_count, self._lat_sum)

    def _drift_locked(self) -> DriftSummary:
        full = len(self._ref_conf) == len(self._cur_conf) == self._drift_window
        psi = (
            population_stability_index(self._ref_conf, self._cur_conf, bins=self._bins)
            if full else None
        )
        return DriftSummary(
            psi=psi,
            reference_n=len(self._ref_conf),
            recent_n=len(self._cur_conf),
            window=self._drift_window,
            confidence_mean_reference=_mean(self._ref_conf),
            confidence_mean_recent=_mean(self._cur_conf),
            entropy_mean_reference=_mean(self._ref_ent),
            entropy_mean_recent=_mean(self._cur_ent),
            model_version=self._model_version,
            reference_started_at=self._reference_at,
        )


def population_stability_index(
    reference: npt.ArrayLike, recent: npt.ArrayLike, *, bins: int = 10
) -> float:
    """PSI of ``recent`` against ``reference`` over the reference's quantile bins.

    0 for identical histograms, larger the more the distributions differ (module
    docstring for the reading and the noise floor). Ties at a quantile (a confident model
    puts many outputs at ~1.0) merge bins instead of creating empty ones.
    """
    ref, cur = np.asarray(reference, dtype=float), np.asarray(recent, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("population_stability_index needs two non-empty samples")
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    k = edges.size + 1
    p = _proportions(np.searchsorted(edges, ref, side="right"), k)
    q = _proportions(np.searchsorted(edges, cur, side="right"), k)
    return float(np.sum((q - p) * np.log(q / p)))


def _proportions(bin_index: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(bin_index, minlength=k).astype(float) + 0.5
    return counts / counts.sum()


def _by_camera(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (camera, status), n in sorted(counts.items()):
        out.setdefault(camera, {})[status] = n
    return out


def _all_flags(counts: Counter[str]) -> dict[str, int]:
    names = list(FLAG_NAMES) + sorted(set(counts) - set(FLAG_NAMES))
    return {name: counts.get(name, 0) for name in names}


def _mean(values: deque[float]) -> float | None:
    return float(np.mean(values)) if values else None
