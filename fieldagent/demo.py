"""``fieldagent demo``: a simulated greenhouse day, analysed by the real pipeline, offline.

Three cameras watch benches of pots. On one bench a patch of plants turns
chlorotic, on another one plant develops necrosis; the cameras fog up, freeze
and get knocked. The agent analyses every image as it "arrives", raises
alerts, writes annotated images, and the summary compares what the cameras
captured with the compact record the agent keeps.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from fieldagent.config.loader import validate
from fieldagent.config.site import SiteConfig
from fieldagent.synth import SceneSpec, save_jpeg, series
from fieldagent.synth import render as render_scene

START = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class CameraPlan:
    """One simulated camera: its bench and what goes wrong with it, by frame fraction."""

    id: str
    spec: SceneSpec
    stress: dict[int, tuple[str, float]]  # plant -> (condition, start as fraction of the day)
    faults: dict[float, tuple[str, float]] = field(default_factory=dict)  # fraction -> fault


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``fieldagent demo``."""
    p.add_argument("--workdir", default="fieldagent-demo", help="folder for everything (created)")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--interval", type=float, default=30.0, help="minutes between images")
    p.add_argument("--cameras", type=int, default=3, choices=(1, 2, 3), help="how many cameras")
    p.add_argument("--width", type=int, default=1600, help="simulated image width in pixels")
    p.add_argument("--seed", type=int, default=7, help="seed of the simulated greenhouse")
    p.add_argument("--no-annotate", action="store_true", help="skip the annotated images")


def plans(width: int, seed: int) -> list[CameraPlan]:
    """The simulated site: what each camera sees and what goes wrong."""
    height = width * 3 // 4
    return [
        CameraPlan(
            "bench-a",
            SceneSpec(width=width, height=height, rows=3, cols=4, seed=seed),
            stress={5: ("chlorosis", 0.35), 6: ("chlorosis", 0.40)},
            faults={0.15: ("fog", 0.7), 0.17: ("fog", 0.75), 0.19: ("fog", 0.7)},
        ),
        CameraPlan(
            "bench-b",
            SceneSpec(width=width, height=height, rows=3, cols=4, seed=seed + 1, warmth=0.2),
            stress={2: ("necrosis", 0.55)},
            faults={0.45: ("frozen", 1.0), 0.47: ("frozen", 1.0), 0.49: ("frozen", 1.0)},
        ),
        CameraPlan(
            "bench-c",
            SceneSpec(width=width, height=height, rows=2, cols=5, seed=seed + 2, light=0.9),
            stress={},
            faults={0.3: ("blur", 4.0), 0.7: ("moved", 60.0)},
        ),
    ]


def site_config(cams: list[CameraPlan]) -> dict[str, Any]:
    """A site config whose zones are each camera's pot grid, as a technician would draw it."""
    cameras = []
    for plan in cams:
        box = render_scene(plan.spec).grid_box
        cameras.append(
            {
                "id": plan.id,
                "crop": "lettuce",
                "zones": [
                    {
                        "kind": "grid",
                        "id": "pots",
                        "box": list(box),
                        "rows": plan.spec.rows,
                        "cols": plan.spec.cols,
                    }
                ],
            }
        )
    return {"site": {"id": "demo-greenhouse", "name": "Demo greenhouse"}, "cameras": cameras}


def run_demo(args: argparse.Namespace) -> int:
    """Generate, analyse, summarise. Returns the exit code."""
    from fieldagent.annotate import write_annotations
    from fieldagent.inference.session import StressModel
    from fieldagent.pipeline import CameraPipeline

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    cams = plans(args.width, args.seed)[: args.cameras]
    cfg_dict = site_config(cams)
    (work / "site.yaml").write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
    site = validate(SiteConfig, cfg_dict, str(work / "site.yaml"))
    model = StressModel.load(site.model)
    frames = max(2, int(args.hours * 60 / args.interval))
    _say(
        f"fieldagent demo: {len(cams)} cameras x {frames} images "
        f"({args.hours:g} h simulated, one every {args.interval:g} min) in {work}/"
    )
    stats = _Stats()
    results_path = work / "results.ndjson"
    t0 = time.perf_counter()
    with results_path.open("w") as results:
        for plan in cams:
            pipe = CameraPipeline(site, site.camera(plan.id), model)
            for path, truth_onsets in _capture(plan, frames, args.interval, work):
                result = pipe.process(path)
                stats.add(path, result, truth_onsets)
                results.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
                if not args.no_annotate:
                    write_annotations(result, work / "annotated" / plan.id)
            _say(f"  {plan.id}: {frames} images analysed")
        stats.add_bad_file(work, site, model, results)
    _summary(stats, work, time.perf_counter() - t0)
    return 0


def _capture(
    plan: CameraPlan, frames: int, interval: float, work: Path
) -> Iterator[tuple[Path, dict[int, datetime]]]:
    """Yield (jpeg path, stress onsets) as the camera would drop files into its inbox."""
    inbox = work / "cameras" / plan.id
    inbox.mkdir(parents=True, exist_ok=True)
    step = timedelta(minutes=interval)
    stress_plan = {i: (cond, int(frac * frames)) for i, (cond, frac) in plan.stress.items()}
    fault_plan = {int(frac * frames): f for frac, f in plan.faults.items()}
    onsets = {i: START + step * start for i, (_, start) in stress_plan.items()}
    for frame in series(
        plan.spec,
        frames=frames,
        start=START,
        interval=step,
        stress_plan=stress_plan,
        fault_plan=fault_plan,
    ):
        path = inbox / f"{plan.id}_{frame.timestamp:%Y%m%dT%H%M%S}.jpg"
        save_jpeg(frame.image, path, quality=88, timestamp=frame.timestamp)
        yield path, onsets


@dataclass
class _Stats:
    images: int = 0
    rejected: list[str] = field(default_factory=list)
    captured_bytes: int = 0
    record_bytes: bytes = b""
    flags: Counter[str] = field(default_factory=Counter)
    alerts: list[tuple[Any, str]] = field(default_factory=list)
    analysis_ms: list[float] = field(default_factory=list)

    def add(self, path: Path, result: Any, onsets: dict[int, datetime]) -> None:
        self.images += 1
        self.captured_bytes += path.stat().st_size
        d = result.to_dict()
        self.record_bytes += json.dumps(_compact_record(d), separators=(",", ":")).encode() + b"\n"
        if result.status != "ok":
            self.rejected.append(f"{path.name}: {result.reason}")
            return
        self.analysis_ms.append(result.timings_ms.get("total", 0.0))
        self.flags.update(f.name for f in result.quality.flags)
        for alert in result.alerts:
            self.alerts.append((alert, _delay(alert, onsets)))

    def add_bad_file(self, work: Path, site: SiteConfig, model: Any, out: Any) -> None:
        """A camera upload cut off mid-file: the agent rejects it with a reason and goes on."""
        from fieldagent.pipeline import CameraPipeline

        bad = work / "cameras" / site.cameras[0].id / "truncated_upload.jpg"
        good = next(bad.parent.glob("*.jpg"))
        bad.write_bytes(good.read_bytes()[:4000])
        result = CameraPipeline(site, site.cameras[0], model).process(bad)
        out.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
        self.rejected.append(f"{bad.name}: {result.reason} ({result.message})")


def _compact_record(d: dict[str, Any]) -> dict[str, Any]:
    """What would travel: signals, quality, model and alerts, without local-only detail."""
    fields = ("image", "camera", "status", "captured_at", "reason")
    keep: dict[str, Any] = {k: d[k] for k in fields if k in d}
    if d.get("status") == "ok":
        keep["quality"] = {
            "ok": d["quality"]["ok"],
            "flags": [f["name"] for f in d["quality"]["flags"]],
        }
        keep["rois"] = [
            {"id": r["id"], "signals": r["signals"], "model": r["model"]} for r in d["rois"]
        ]
        keep["alerts"] = d["alerts"]
    return keep


def _delay(alert: Any, onsets: dict[int, datetime]) -> str:
    if alert.state != "raised" or not alert.zone.startswith("pots-") or not onsets:
        return ""
    first = min(onsets.values())
    hours = (alert.at - first).total_seconds() / 3600
    return (
        f"{hours:.1f} h after the first stress began" if hours >= 0 else "before any stress began"
    )


def _summary(stats: _Stats, work: Path, seconds: float) -> None:
    packed = len(gzip.compress(stats.record_bytes, 9))
    ratio = stats.captured_bytes / max(packed, 1)
    ms = sorted(stats.analysis_ms)
    p50 = ms[len(ms) // 2] if ms else 0.0
    _say("")
    _say(f"images analysed: {stats.images} in {seconds:.0f} s (median {p50:.0f} ms per image)")
    _say(f"rejected: {len(stats.rejected)}" + "".join(f"\n  {r}" for r in stats.rejected))
    _say(
        "quality flags: " + (", ".join(f"{k} {v}" for k, v in stats.flags.most_common()) or "none")
    )
    _say(
        f"alerts: {sum(1 for a, _ in stats.alerts if a.state == 'raised')} raised, "
        f"{sum(1 for a, _ in stats.alerts if a.state == 'resolved')} resolved"
    )
    for alert, delay in stats.alerts:
        extra = f"  ({delay})" if delay else ""
        _say(f"  {alert.at:%H:%M} {alert.message}{extra}")
    _say(
        f"data reduction: {ratio:.0f}x ({_size(stats.captured_bytes)} captured, "
        f"{_size(packed)} of signals, quality and alerts as gzip NDJSON)"
    )
    _say(
        f"look next: {work / 'annotated'}/ (overlays and masks), {work / 'results.ndjson'}, "
        f"{work / 'site.yaml'}"
    )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.1f} GB"


def _say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
