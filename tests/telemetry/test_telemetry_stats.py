"""AgentStats: counts, latency percentiles, confidence drift, thread safety."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from fieldagent.config.site import SiteConfig
from fieldagent.inference.session import StressModel
from fieldagent.pipeline import CameraPipeline
from fieldagent.synth import SceneSpec, render, save_jpeg
from fieldagent.telemetry import AgentStats, TelemetryConfig, population_stability_index
from tests.support.clock import SimClock
from tests.telemetry.helpers import ok_image, rejected_image

RNG_SEED = 7


def confidences(rng: np.random.Generator, n: int, b: float = 2.0) -> np.ndarray:
    """Top-class probabilities of a 4-class model: in [0.25, 1], mostly high."""
    return 0.25 + 0.75 * rng.beta(8.0, b, n)


def test_latency_percentiles_match_numpy_over_the_sliding_window() -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = rng.gamma(4.0, 10.0, 500)
    stats = AgentStats(SimClock(), latency_window=120, latency_baseline=50)
    for ms in data:
        stats.observe_image(ok_image(latency_ms=float(ms)))
    lat = stats.snapshot().latency
    recent = data[-120:]
    assert lat.p50_ms == pytest.approx(np.percentile(recent, 50))
    assert lat.p95_ms == pytest.approx(np.percentile(recent, 95))
    assert lat.samples == 120
    assert lat.baseline_p95_ms == pytest.approx(np.percentile(data[:50], 95))
    assert lat.baseline_samples == 50
    assert lat.count == 500 and lat.sum_ms == pytest.approx(data.sum())


def test_latency_baseline_waits_for_its_runs_and_ignores_images_without_model() -> None:
    stats = AgentStats(SimClock(), latency_window=5, latency_baseline=10)
    for _ in range(9):
        stats.observe_image(ok_image(latency_ms=10.0))
    stats.observe_image(ok_image(latency_ms=999.0, confidences=()))  # no zone ran the model
    stats.observe_image(rejected_image())
    lat = stats.snapshot().latency
    assert lat.baseline_p95_ms is None and lat.samples == 5 and lat.count == 9
    stats.observe_image(ok_image(latency_ms=10.0))
    assert stats.snapshot().latency.baseline_p95_ms == pytest.approx(10.0)


def test_counts_by_camera_status_reason_and_quality_flag() -> None:
    clock = SimClock()
    stats = AgentStats(clock)
    for _ in range(3):
        stats.observe_image(ok_image("cam-1"))
    stats.observe_image(ok_image("cam-1", flags=("fog", "blur")))
    stats.observe_image(ok_image("cam-2", flags=("fog",)))
    stats.observe_image(rejected_image("cam-2", "truncated"))
    clock.advance(30)
    stats.observe_image(rejected_image("cam-2", "empty"))
    s = stats.snapshot()
    assert s.images_total == {"cam-1": {"ok": 4}, "cam-2": {"ok": 1, "rejected": 2}}
    assert s.rejected_total == {"empty": 1, "truncated": 1}
    assert s.quality_checked_total == 5
    assert s.quality_flags_total["fog"] == 2 and s.quality_flags_total["blur"] == 1
    assert s.quality_flags_total["dark"] == 0  # every known flag is listed
    assert s.quality_fail_rates()["fog"] == pytest.approx(2 / 5)
    assert s.last_image_at["cam-2"] == clock.now


def test_heartbeat_snapshot_starts_a_new_interval_but_keeps_totals() -> None:
    clock = SimClock()
    stats = AgentStats(clock)
    stats.observe_image(ok_image(flags=("fog",)))
    clock.advance(600)
    first = stats.heartbeat_snapshot()
    assert first.images_interval == {"cam-1": {"ok": 1}}
    stats.observe_image(rejected_image())
    clock.advance(600)
    second = stats.heartbeat_snapshot()
    assert second.images_interval == {"cam-1": {"rejected": 1}}
    assert second.images_total == {"cam-1": {"ok": 1, "rejected": 1}}
    assert second.quality_checked_interval == 0
    assert all(rate is None for rate in second.quality_fail_rates().values())
    assert second.interval_started_at == first.at
    assert stats.snapshot().interval_started_at == second.at  # a plain snapshot resets nothing


def test_drift_is_small_for_the_same_distribution_and_large_for_a_shifted_one() -> None:
    rng = np.random.default_rng(RNG_SEED)
    bins, n = 10, 2000
    noise = (bins - 1) * (2 / n)  # expected PSI of two samples of one distribution
    same = population_stability_index(confidences(rng, n), confidences(rng, n), bins=bins)
    shifted = population_stability_index(confidences(rng, n), confidences(rng, n, b=4.0))
    assert 0.0 <= same < 3 * noise
    assert shifted > 0.25


def test_drift_grows_with_the_shift() -> None:
    rng = np.random.default_rng(RNG_SEED)
    reference = confidences(rng, 5000)
    figures = [
        population_stability_index(reference, confidences(rng, 5000, b=2.0 + shift))
        for shift in (0.0, 0.5, 1.0, 2.0, 4.0)
    ]
    assert figures == sorted(figures)
    assert figures[-1] > 10 * figures[0]


def test_drift_is_zero_for_identical_samples_and_survives_ties() -> None:
    ties = [1.0] * 80 + [0.6] * 20  # a confident model: most outputs at the top
    assert population_stability_index(ties, ties) == pytest.approx(0.0)
    assert population_stability_index(ties, [0.6] * 100) > 1.0


def test_drift_needs_full_windows_and_tracks_the_recent_one() -> None:
    rng = np.random.default_rng(RNG_SEED)
    stats = AgentStats(SimClock(), drift_window=300)
    for c in confidences(rng, 299):
        stats.observe_image(ok_image(confidences=(float(c),)))
    assert stats.snapshot().drift.psi is None
    stats.observe_image(ok_image(confidences=(0.9,)))
    at_start = stats.snapshot().drift
    assert at_start.psi == pytest.approx(0.0)  # both windows are the same 300 outputs
    for c in confidences(rng, 300, b=5.0):
        stats.observe_image(ok_image(confidences=(float(c),)))
    drift = stats.snapshot().drift
    assert drift.psi is not None and drift.psi > 0.25
    assert drift.confidence_mean_recent is not None and drift.confidence_mean_reference
    assert drift.confidence_mean_recent < drift.confidence_mean_reference


def test_untrusted_outputs_do_not_count_towards_drift() -> None:
    stats = AgentStats(SimClock(), drift_window=50)
    for _ in range(50):
        stats.observe_image(ok_image(confidences=(0.3,), flags=("fog",)))
    drift = stats.snapshot().drift
    assert drift.reference_n == 0 and drift.recent_n == 0
    assert stats.snapshot().model_outputs_total == 50


def test_a_new_model_version_restarts_baseline_and_reference() -> None:
    clock = SimClock()
    stats = AgentStats(clock, latency_window=10, drift_window=50)
    for _ in range(60):
        stats.observe_image(ok_image(confidences=(0.9,), version="m1"))
    assert stats.snapshot().drift.psi is not None
    clock.advance(60)
    stats.observe_image(ok_image(confidences=(0.5,), version="m2"))
    s = stats.snapshot()
    assert s.drift.model_version == "m2" and s.drift.reference_n == 1 and s.drift.psi is None
    assert s.drift.reference_started_at == clock.now
    assert s.latency.baseline_p95_ms is None and s.latency.samples == 1
    stats.reset_reference()
    assert stats.snapshot().drift.reference_n == 0


def test_concurrent_observers_and_readers_lose_no_count() -> None:
    stats = AgentStats(SimClock(), latency_window=50, drift_window=50)
    per_thread, threads = 400, 4
    stop = threading.Event()

    def feed(camera: str) -> None:
        for i in range(per_thread):
            stats.observe_image(ok_image(camera, latency_ms=float(i % 40 + 1)))

    def read() -> None:
        while not stop.is_set():
            stats.snapshot()

    reader = threading.Thread(target=read)
    reader.start()
    feeders = [threading.Thread(target=feed, args=(f"cam-{i}",)) for i in range(threads)]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    stop.set()
    reader.join()
    s = stats.snapshot()
    assert sum(v["ok"] for v in s.images_total.values()) == per_thread * threads
    assert s.latency.count == per_thread * threads


def test_from_config_takes_the_windows() -> None:
    cfg = TelemetryConfig(latency_window=15, latency_baseline_runs=12, drift_window=60,
                          drift_bins=5)
    stats = AgentStats.from_config(cfg, SimClock())
    for _ in range(20):
        stats.observe_image(ok_image())
    s = stats.snapshot()
    assert s.latency.samples == 15 and s.latency.baseline_samples == 12
    assert s.drift.window == 60


def test_real_pipeline_results_feed_the_stats(tmp_path: Path) -> None:
    site = SiteConfig()
    pipe = CameraPipeline(site, site.cameras[0], StressModel.load(site.model))
    stats = AgentStats(SimClock())
    results = []
    for i in range(2):
        path = tmp_path / f"f{i}.jpg"
        save_jpeg(render(SceneSpec(width=640, height=480, seed=3, frame_seed=i)).image, path)
        results.append(pipe.process(path))
        stats.observe_image(results[-1])
    (tmp_path / "bad.jpg").write_bytes(b"")
    stats.observe_image(pipe.process(tmp_path / "bad.jpg"))
    s = stats.snapshot()
    camera = site.cameras[0].id
    assert s.images_total[camera] == {"ok": 2, "rejected": 1}
    assert s.rejected_total == {"empty": 1}
    model_ms = [r.timings_ms["model"] for r in results]
    assert s.latency.count == 2 and s.latency.sum_ms == pytest.approx(sum(model_ms))
    outputs = [z.model for r in results for z in r.results if z.model is not None]
    assert s.model_outputs_total == len(outputs) > 0
    assert s.drift.model_version == outputs[0].model_version


def test_impossible_windows_and_empty_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="drift_window"):
        AgentStats(SimClock(), drift_window=1)
    with pytest.raises(ValueError, match="non-empty"):
        population_stability_index([], [0.5])
