"""Shared pieces of the telemetry tests: real result records (the clock is ``SimClock``).

The records are the pipeline's own frozen dataclasses, filled with chosen figures, so a
test can state exactly which latency or confidence went in. One test also feeds the real
pipeline's output (``test_telemetry_stats``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fieldagent.inference.session import ModelOutput
from fieldagent.pipeline import ImageResult, RoiResult
from fieldagent.quality.report import QualityFlag, QualityReport
from fieldagent.telemetry.system import SystemSnapshot
from tests.support.clock import T0

CLASSES = ("healthy", "chlorosis", "necrosis", "wilting")


def model_output(confidence: float, *, version: str = "m1", entropy: float = 0.3) -> ModelOutput:
    rest = (1.0 - confidence) / 3
    probs = dict(zip(CLASSES, (confidence, rest, rest, rest), strict=True))
    return ModelOutput("healthy", confidence, probs, entropy, version)


def ok_image(
    camera: str = "cam-1",
    *,
    latency_ms: float = 20.0,
    confidences: Sequence[float] = (0.9,),
    flags: Sequence[str] = (),
    version: str = "m1",
    trusted: bool | None = None,
) -> ImageResult:
    """An analysed image: one zone per confidence, the model stage took ``latency_ms``."""
    quality = QualityReport(
        ok=not flags,
        flags=tuple(QualityFlag(f, f"{f}_metric", 1.0, 0.5, True, f"{f} seen") for f in flags),
    )
    is_trusted = quality.ok if trusted is None else trusted
    results = tuple(
        RoiResult(f"z{i}", (0, 0, 10, 10), is_trusted, (), {}, model_output(c, version=version))
        for i, c in enumerate(confidences)
    )
    return ImageResult(
        f"{camera}.jpg", camera, "ok", captured_at=T0, quality=quality, results=results,
        timings_ms={"decode": 5.0, "model": latency_ms, "total": 5.0 + latency_ms},
    )


def rejected_image(camera: str = "cam-1", reason: str = "truncated") -> ImageResult:
    return ImageResult(f"{camera}.jpg", camera, "rejected", reason, f"{reason} file",
                       timings_ms={"decode": 1.0})


def system_snapshot(
    at: datetime = T0,
    *,
    total: int | None = 100_000_000_000,
    free: int | None = 50_000_000_000,
    cpu_temp_c: float | None = 55.0,
) -> SystemSnapshot:
    return SystemSnapshot(
        at=at, data_dir="/var/lib/fieldagent", disk_total_bytes=total, disk_free_bytes=free,
        cpu_temp_c=cpu_temp_c, load_1m=0.5, load_5m=0.4, load_15m=0.3, rss_bytes=150_000_000,
        system_uptime_s=3600.0,
    )
