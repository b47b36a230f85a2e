"""Benchmark section: stress alerts under realistic greenhouse light, before and after.

Healthy plants under realistic synthetic days (``fieldagent.synth.light``: sun
elevation, 2,700-6,500 K, clouds, shade screens at midday, pink grow lamps at
the ends of the day) go through the real ``CameraPipeline`` with the default
alert rules. Every stress alert raised on them is false; the figure is false
stress alerts per zone-day, for the old behaviour (no colour correction, no
light gate) and the new one (white balance, light gate; and with a colour
card). Planted yellowing in one zone gives the detection delay in images.
Per-stage time shows what colour correction costs as a share of the analysis.

``bench/bench_truth.py`` calls :func:`light_section`; alone::

    python bench/truth_light.py [--days 7] [--seeds 3] [--size 480]
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fieldagent.config.site import SiteConfig
from fieldagent.decode import Frame
from fieldagent.pipeline import CameraPipeline, ImageResult
from fieldagent.synth import SceneSpec, SeriesFrame, series
from fieldagent.synth.light import GreenhouseLight

STRESS_RULES = ("zone-stressed", "zone-yellowing", "zone-browning")
START = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
INTERVAL = timedelta(hours=2)
CARD = (0.02, 0.02, 0.3, 0.2)
ZONES = 3
STRESS_LEAD = 24  # images between the start of the yellowing and the end of the run
# name -> (camera keys, analysis keys)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "before: no correction, no light gate": (
        {"colour": {"white_balance": "off"}}, {"signals": {"light": {"enabled": False}}}),
    "white balance only (no gate)": ({}, {"signals": {"light": {"enabled": False}}}),
    "after: white balance + light gate (default)": ({}, {}),
    "after: colour card + light gate": ({"colour": {"card": {"box": list(CARD)}}}, {}),
}


@dataclass(frozen=True)
class Outcome:
    """What one variant did on one seed's days."""

    false_alerts: int
    zone_days: float
    stages_ms: dict[str, float]
    delay_images: int | None  # images from the start of the yellowing to its first alert


def frames_for(seed: int, days: int, size: int, *, stressed: bool) -> list[SeriesFrame]:
    """Realistic days of one camera; the stressed run yellows zone 3 from 08:30 two days before
    the end (severity ramps to 0.9 over 12 images, one day)."""
    spec = SceneSpec(width=size, height=size * 3 // 4, rows=1, cols=ZONES, seed=seed,
                     card_box=CARD)
    n = days * 12
    plan = {ZONES - 1: ("chlorosis", n - STRESS_LEAD)} if stressed else {}
    return list(series(spec, frames=n, start=START, interval=INTERVAL, lighting=GreenhouseLight(),
                       stress_plan=plan, ramp_frames=12))


def run(frames: list[SeriesFrame], camera: dict[str, Any],
        analysis: dict[str, Any]) -> list[ImageResult]:
    """Every frame through the real pipeline (from decoded arrays) with the default rules."""
    x0, y0, x1, y1 = frames[0].scene.grid_box
    box = [x0, max(y0, CARD[3] + 0.02), x1, y1]  # the zones stay clear of the card
    zones = [{"kind": "grid", "id": "z", "box": box, "rows": 1, "cols": ZONES}]
    site = SiteConfig.model_validate(
        {"cameras": [{"id": "c", "zones": zones, **camera}], "analysis": analysis})
    pipe = CameraPipeline(site, site.cameras[0], None)
    out = []
    for f in frames:
        rgb = f.image.astype(np.float32) / 255.0
        frame = Frame(rgb, (rgb.shape[1], rgb.shape[0]), 1.0, "RGB", "synthetic", None, 0)
        out.append(pipe.analyze(frame, image=str(f.index), captured_at=f.timestamp))
    return out


def raised(results: list[ImageResult]) -> list[tuple[int, str]]:
    """(image index, zone) of every stress alert raised."""
    return [(i, a.zone) for i, r in enumerate(results) for a in r.alerts
            if a.state == "raised" and a.rule in STRESS_RULES]


def measure(seed: int, days: int, size: int, camera: dict[str, Any],
            analysis: dict[str, Any]) -> Outcome:
    healthy = run(frames_for(seed, days, size, stressed=False), camera, analysis)
    stressed_frames = frames_for(seed, days, size, stressed=True)
    stressed = run(stressed_frames, camera, analysis)
    first = len(stressed_frames) - STRESS_LEAD
    hits = [i for i, zone in raised(stressed) if zone == f"z-r1c{ZONES}" and i >= first]
    stages: dict[str, list[float]] = {}
    for r in healthy:
        for k, v in r.timings_ms.items():
            stages.setdefault(k, []).append(v)
    return Outcome(
        false_alerts=len(raised(healthy)),
        zone_days=ZONES * days,
        stages_ms={k: statistics.median(v) for k, v in stages.items()},
        delay_images=(min(hits) - first + 1) if hits else None,
    )


def light_section(days: int = 7, seeds: int = 3, size: int = 480) -> dict[str, dict[str, Any]]:
    """Print (and return) false stress alerts per zone-day and detection delay per variant,
    then the per-stage time of the default variant."""
    print(f"== light: {seeds} camera(s) x {days} realistic days, 1 image / 2 h, {ZONES} zones, "
          f"{size}x{size * 3 // 4} px; default alert rules")
    summary: dict[str, dict[str, Any]] = {}
    for name, (camera, analysis) in VARIANTS.items():
        outs = [measure(seed, days, size, camera, analysis) for seed in range(1, seeds + 1)]
        false = sum(o.false_alerts for o in outs)
        zone_days = sum(o.zone_days for o in outs)
        delays = [o.delay_images for o in outs]
        found = [d for d in delays if d is not None]
        summary[name] = {"false_per_zone_day": false / zone_days, "delays": delays,
                         "stages_ms": _mean_stages(outs)}
        hours = INTERVAL.total_seconds() / 3600
        delay = (f"median {statistics.median(found):.0f} images = "
                 f"{statistics.median(found) * hours:.0f} h" if found else "never")
        print(f"  {name:46s} false stress alerts {false:3d} = {false / zone_days:.3f} per "
              f"zone-day; yellowing found in {len(found)}/{len(outs)} (delay {delay})")
    for name in ("after: white balance + light gate (default)", "after: colour card + light gate"):
        stages = summary[name]["stages_ms"]
        analysis_ms = stages.get("analysis", float("nan"))
        parts = ", ".join(f"{k} {v:.1f}" for k, v in stages.items() if k not in ("total",))
        print(f"  stage ms ({name}): {parts}")
        print(f"    colour correction = {stages.get('colour', 0.0) / analysis_ms:.1%} of analysis")
    return summary


def _mean_stages(outs: list[Outcome]) -> dict[str, float]:
    keys = outs[0].stages_ms.keys()
    return {k: statistics.fmean(o.stages_ms[k] for o in outs) for k in keys}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--size", type=int, default=480, help="frame width in px")
    a = p.parse_args()
    light_section(a.days, a.seeds, a.size)


if __name__ == "__main__":
    main()
