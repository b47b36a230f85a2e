"""``fieldagent demo``: a simulated greenhouse day through the real agent, offline.

Three cameras watch benches of pots. On one bench a patch of plants turns chlorotic, on
another one plant develops necrosis; the cameras fog up, freeze and get knocked, and one
upload is cut off mid-file. The cameras drop their JPEGs into inbox folders; the agent
(``fieldagent.service.agent.Agent``, the same object ``fieldagent run`` schedules, here on
a simulated clock so a day takes a minute) analyses them, alerts the grower's phone (a
webhook receiver on loopback), keeps signals and a policy-chosen sample of images in its
outbox, and uploads to a local folder that stands in for S3. The summary compares what the
cameras captured with what crossed the "link".
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

# re-exported: the options are defined apart so the CLI parser need not import this module
from fieldagent.demo_args import add_arguments as add_arguments
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
    """Simulate, run the agent over the day, summarise. Returns the exit code."""
    from fieldagent.annotate import write_annotations
    from fieldagent.config.site import load_site_config
    from fieldagent.service.agent import Agent
    from fieldagent.service.status import collect, render

    # The summary tells the story; the agent's own alert log lines would repeat it.
    logging.getLogger("fieldagent.service.agent").setLevel(logging.ERROR)
    logging.getLogger("fieldagent.sinks").setLevel(logging.WARNING)
    work = Path(args.workdir).resolve()
    for old in ("data", "cloud", "inbox", "annotated"):  # a demo starts from a clean slate
        shutil.rmtree(work / old, ignore_errors=True)
    (work / "cloud").mkdir(parents=True)
    cams = plans(args.width, args.seed)[: args.cameras]
    frames = max(2, int(args.hours * 60 / args.interval))
    phone = GrowerPhone()
    try:
        config = write_demo_config(work, cams, phone.url)
        clock = SimClock(START)
        agent = Agent(load_site_config(config), base_dir=work, clock=clock, sleep=clock.sleep)
        _say(f"fieldagent demo: {len(cams)} cameras x {frames} images ({args.hours:g} h "
             f"simulated, one every {args.interval:g} min) through the agent in {work}/")
        day = _Day()
        t0 = time.perf_counter()
        with (work / "results.ndjson").open("w") as results:
            for step, drops in enumerate(_capture(cams, frames, args.interval, work)):
                clock.now = drops[0][1]
                day.captured_bytes += sum(path.stat().st_size for _, _, path in drops)
                if step == frames // 2:  # a camera upload cut off mid-file
                    day.captured_bytes += _truncated_upload(work, cams[0].id, drops[0][2])
                agent.poll_sources()
                clock.sleep(1)
                agent.poll_sources()
                while (result := agent.process_next()) is not None:
                    day.add(result)
                    results.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
                    if not args.no_annotate and result.status == "ok":
                        write_annotations(result, work / "annotated" / result.camera)
                agent.housekeeping()
                agent.deliver_alerts()
                upload_what_may_go(agent)
        agent.batcher.flush()
        agent.uploader.run_until_idle()  # the night window for images, on the simulated clock
        agent.deliver_alerts()
        agent.close()
        _summary(day, phone, work, cams, frames, args.interval, time.perf_counter() - t0)
        _say("")
        _say(render(collect(config, clock.now)))
    finally:
        phone.close()
    return 0


def write_demo_config(work: Path, cams: list[CameraPlan], hook_url: str) -> Path:
    """The site config a technician would write for this greenhouse (``check-config`` it)."""
    cfg = site_config(cams)
    for cam in cfg["cameras"]:
        cam["source"] = {"kind": "inbox", "path": f"inbox/{cam['id']}", "settle_seconds": 0}
    cfg["alerts"] = {"sinks": [{"kind": "webhook", "id": "grower-phone", "url": hook_url,
                                "format": "json"}]}
    cfg.update(uplink={"target": "file://cloud"}, data_dir="data", policy="default",
               telemetry={"metrics": {"enabled": False}})
    path = work / "site.yaml"
    path.write_text("# written by `fieldagent demo`; the webhook is the demo's own receiver\n"
                    + yaml.safe_dump(cfg, sort_keys=False))
    return path


class GrowerPhone:
    """Stands in for the grower's phone: a webhook receiver on loopback (ntfy, Slack ...)."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        phone = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                phone.alerts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the summary shows what arrived."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/grower"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SimClock:
    """A simulated clock for the agent (demo, benchmarks, tests): ``sleep`` advances it."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def upload_what_may_go(agent: Any) -> None:
    """Upload steps until the uploader would wait (a window, a rate cap): the service's
    uplink thread does this continuously; here the simulated clock moves between images."""
    from fieldagent.uplink.scheduler import BUSY

    for _ in range(10_000):
        if agent.upload_step().action not in BUSY:
            return


def _capture(
    cams: list[CameraPlan], frames: int, interval: float, work: Path
) -> Iterator[list[tuple[str, datetime, Path]]]:
    """Each time step, every camera drops its JPEG into its inbox folder."""
    step = timedelta(minutes=interval)
    streams = []
    for plan in cams:
        stress_plan = {i: (c, int(f * frames)) for i, (c, f) in plan.stress.items()}
        fault_plan = {int(f * frames): x for f, x in plan.faults.items()}
        streams.append((plan.id, series(plan.spec, frames=frames, start=START, interval=step,
                                        stress_plan=stress_plan, fault_plan=fault_plan)))
    for row in zip(*(s for _, s in streams), strict=True):
        drops = []
        for (camera, _), frame in zip(streams, row, strict=True):
            inbox = work / "inbox" / camera
            inbox.mkdir(parents=True, exist_ok=True)
            path = inbox / f"{camera}_{frame.timestamp:%Y%m%dT%H%M%S}.jpg"
            save_jpeg(frame.image, path, quality=88, timestamp=frame.timestamp)
            drops.append((camera, frame.timestamp, path))
        yield drops


def _truncated_upload(work: Path, camera: str, good: Path) -> int:
    bad = work / "inbox" / camera / "truncated_upload.jpg"
    bad.write_bytes(good.read_bytes()[:4000])
    return 4000


@dataclass
class _Day:
    images: int = 0
    captured_bytes: int = 0
    rejected: list[str] = field(default_factory=list)
    flags: Counter[str] = field(default_factory=Counter)
    analysis_ms: list[float] = field(default_factory=list)

    def add(self, result: Any) -> None:
        self.images += 1
        if result.status != "ok":
            self.rejected.append(f"{Path(result.image).name}: {result.reason}")
            return
        self.analysis_ms.append(result.timings_ms.get("total", 0.0))
        self.flags.update(f.name for f in result.quality.flags)


def _summary(day: _Day, phone: GrowerPhone, work: Path, cams: list[CameraPlan], frames: int,
             interval: float, seconds: float) -> None:
    ms = sorted(day.analysis_ms)
    p50 = ms[len(ms) // 2] if ms else 0.0
    first_stress = START + timedelta(minutes=interval) * min(
        int(f * frames) for plan in cams for _, f in plan.stress.values())
    _say("")
    _say(f"images analysed: {day.images} in {seconds:.0f} s (median {p50:.0f} ms per image)")
    _say(f"quarantined: {len(day.rejected)}" + "".join(f"\n  {r}" for r in day.rejected)
         + (f"\n  (with a reason file each, in {work / 'data' / 'quarantine'}/)"
            if day.rejected else ""))
    _say("quality flags: "
         + (", ".join(f"{k} {v}" for k, v in day.flags.most_common()) or "none"))
    raised = [a for a in phone.alerts if a["state"] == "raised"]
    _say(f"alerts on the grower's phone (webhook): {len(raised)} raised, "
         f"{len(phone.alerts) - len(raised)} resolved")
    for a in phone.alerts:
        at = datetime.fromisoformat(a["at"])
        note = ""
        if a["state"] == "raised" and a["zone"].startswith("pots-") and at >= first_stress:
            note = f"  ({(at - first_stress).total_seconds() / 3600:.1f} h after stress began)"
        _say(f"  {at:%H:%M} {a['state']:<8} {a['message']}{note}")
    sent = Counter[str]()
    sizes = Counter[str]()
    for f in (work / "cloud" / "raw").rglob("*"):
        if f.is_file():
            kind = f.relative_to(work / "cloud" / "raw").parts[0]
            sent[kind] += 1
            sizes[kind] += f.stat().st_size
    total = sum(sizes.values())
    _say(f"uploaded to {work / 'cloud'}/ (stands in for S3): {_size(total)} in "
         f"{sum(sent.values())} objects, "
         + ", ".join(f"{k} {sent[k]} ({_size(sizes[k])})" for k, _ in sizes.most_common()))
    _say(f"data reduction: {day.captured_bytes / max(total, 1):.0f}x "
         f"({_size(day.captured_bytes)} captured by the cameras, {_size(total)} sent); the "
         "demo's frames are small (1600 px, ~0.5 MB): on 12 MP frames the same policy "
         "sends 347x less (bench/bench_offload_day.py)")
    _say(f"look next: {work / 'annotated'}/ (overlays and masks), {work / 'results.ndjson'}, "
         f"{work / 'site.yaml'} (run it for real: fieldagent run --config {work / 'site.yaml'})")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.1f} GB"


def _say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
