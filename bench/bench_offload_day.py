"""Benchmark: bytes sent for one simulated greenhouse day, against uploading every image.

The day is the demo's greenhouse (``fieldagent.demo``: three cameras over benches of pots,
chlorosis and necrosis developing, fog, a frozen and a knocked camera), rendered by
``fieldagent.synth`` and analysed image by image by the real ``CameraPipeline``. What the
agent would send goes through the real path for each policy given: signal records into
the ``SignalBatcher`` (gzip NDJSON batches), alerts with their evidence crop, heartbeats
every 10 minutes and an hourly model report into a ``SqliteOutbox``, images kept by the
policy's ``ImageSampler`` (encoded as it says: frame, crop or thumbnail, at its JPEG
quality), and the ``Uploader`` drains the outbox into a folder (``LocalTransport``) on a
simulated clock, windows and rate caps included. Bytes sent are the objects' sizes there.

The baseline is the size of every captured JPEG, uploaded as is. The pipeline runs once
per image and every policy sees the same results, so the ratios compare like with like.
Every raised alert must arrive with its evidence image; the script says so or fails.

    python bench/bench_offload_day.py [--interval 15] [--width 1600] \
        [--policies default,default:5,metered-cellular]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from fieldagent.config.loader import validate
from fieldagent.config.site import SiteConfig
from fieldagent.demo import START, SimClock, plans, site_config
from fieldagent.inference.session import StressModel
from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.degrade import DegradeState, HeldLevel
from fieldagent.offload.journal import RecordJournal
from fieldagent.offload.offloader import Offloader
from fieldagent.outbox import SqliteOutbox
from fieldagent.pipeline import CameraPipeline, ImageResult
from fieldagent.policy import load_policy
from fieldagent.synth import save_jpeg, series
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.uploader import Uploader

SITE = "demo-greenhouse"


class Offload:
    """Everything one policy would send for the day, through the agent's own ``Offloader``
    (records, alerts with evidence, sampled images), a real outbox and the uploader."""

    def __init__(self, spec: str, work: Path, cameras: list[str]) -> None:
        self.name = spec
        policy_name, _, level = spec.partition(":")
        self.policy = p = load_policy(policy_name)
        held = HeldLevel(DegradeState(level=int(level or 0)))
        self.clock = SimClock()
        self.box = SqliteOutbox(work / "outbox", limits=p.outbox_limits(), clock=self.clock)
        self.batcher = SignalBatcher(p.batching, SITE, self.clock, outbox=self.box,
                                     journal=RecordJournal(work / "outbox" / "signals.db"),
                                     signals=p.klass("signals"))
        self.cloud = work / "cloud"
        self.cloud.mkdir(parents=True)
        self.up = Uploader(self.box, LocalTransport(self.cloud), p, site=SITE, clock=self.clock,
                           sleep=self.clock.sleep)
        self.offloader = Offloader(p, SITE, self.box, self.batcher, cameras, clock=self.clock,
                                   degrade=held, seed=7)
        self.expected_alerts: list[str] = []
        self.kept: Counter[str] = Counter()
        self._next_heartbeat = START
        self._next_report = START

    def ingest(self, when: datetime, path: Path, result: ImageResult) -> None:
        """What the agent does with one analysed image, then one round of uploading."""
        self.clock.now = max(self.clock.now, when)
        out = self.offloader.handle(result, path)
        for a in out.alerts:
            self.expected_alerts += [a.key] + ([a.evidence_key] if a.evidence_key else [])
        if out.image_key and out.sample:
            self.kept[out.sample.reason] += 1
        self._housekeeping(when)
        self.batcher.poll()
        while self.up.step().action in ("sent", "part", "retry", "dropped", "gave_up"):
            pass

    def _housekeeping(self, when: datetime) -> None:
        while self._next_heartbeat <= when:
            beat = {"site": SITE, "at": self._next_heartbeat.isoformat(), "status": "ok",
                    "outbox": self.box.stats(now=when).total_bytes, "version": "0.1.0"}
            self.offloader.put_json("heartbeat", beat, when=self._next_heartbeat)
            self._next_heartbeat += timedelta(minutes=10)
        while self._next_report <= when:
            report = {"site": SITE, "at": self._next_report.isoformat(), "model": "stress",
                      "version": "bootstrap", "crops": 100, "mean_entropy": 0.31,
                      "labels": {"healthy": 90, "chlorosis": 6, "necrosis": 3, "wilting": 1}}
            self.offloader.put_json("model_report", report, when=self._next_report)
            self._next_report += timedelta(hours=1)

    def finish(self) -> dict[str, tuple[int, int]]:
        """Close the last batch, drain everything (into the night window), count the bytes."""
        self.batcher.flush()
        self.up.run_until_idle()
        missing = [k for k in self.expected_alerts if not (self.cloud / k).is_file()]
        if missing:
            sys.exit(f"{self.name}: {len(missing)} alert objects never arrived, e.g. {missing[0]}")
        sizes: dict[str, tuple[int, int]] = {}
        for f in self.cloud.joinpath("raw").rglob("*"):
            if f.is_file():
                kind = f.relative_to(self.cloud / "raw").parts[0]
                n, b = sizes.get(kind, (0, 0))
                sizes[kind] = (n + 1, b + f.stat().st_size)
        self.batcher.close()
        self.box.close()
        return sizes


def captures(args: argparse.Namespace, work: Path) -> Iterator[tuple[str, datetime, Path]]:
    """The cameras' images, interleaved in time as they would arrive."""
    frames = int(24 * 60 / args.interval)
    step = timedelta(minutes=args.interval)
    streams = []
    for plan in plans(args.width, args.seed):
        stress = {i: (c, int(f * frames)) for i, (c, f) in plan.stress.items()}
        fault = {int(f * frames): x for f, x in plan.faults.items()}
        streams.append((plan.id, series(plan.spec, frames=frames, start=START, interval=step,
                                        stress_plan=stress, fault_plan=fault)))
    for row in zip(*(s for _, s in streams), strict=True):
        for (camera, _), frame in zip(streams, row, strict=True):
            path = work / "cameras" / camera / f"{frame.timestamp:%Y%m%dT%H%M%S}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_jpeg(frame.image, path, quality=88, timestamp=frame.timestamp)
            yield camera, frame.timestamp, path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--interval", type=float, default=15.0, help="minutes between images")
    ap.add_argument("--width", type=int, default=4000,
                    help="simulated image width, pixels (4000: a 12 MP camera, ~2.7 MB JPEGs)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--policies", default="default,default:5,metered-cellular",
                    help="policies to compare; NAME:N applies the first N steps of its "
                    "degrade ladder (what the agent does when the link cannot keep up)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fa-offload-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    site = validate(SiteConfig, site_config(plans(args.width, args.seed)), "bench")
    model = StressModel.load(site.model)
    pipes = {c.id: CameraPipeline(site, c, model) for c in site.cameras}
    names = args.policies.split(",")
    offloads = [Offload(n, work / n, list(pipes)) for n in names]
    started, as_is, images = time.perf_counter(), 0, 0
    for camera, when, path in captures(args, work):
        result = pipes[camera].process(path, captured_at=when)
        as_is += path.stat().st_size
        images += 1
        for off in offloads:
            off.ingest(when, path, result)
        path.unlink()
    print(f"$ python bench/bench_offload_day.py --interval {args.interval:g} --width "
          f"{args.width} --policies {args.policies}")
    print(f"{images} images from {len(pipes)} cameras over 24 h, {as_is / 1e6:.1f} MB as "
          f"captured (what uploading every image as is sends); analysis and offload took "
          f"{time.perf_counter() - started:.0f} s")
    for off in offloads:
        report(off, off.finish(), as_is)
    return 0


def report(off: Offload, sizes: dict[str, tuple[int, int]], as_is: int) -> None:
    total = sum(b for _, b in sizes.values())
    no_images = total - sizes.get("image", (0, 0))[1]
    level = f" (degrade level {off.name.partition(':')[2]})" if ":" in off.name else ""
    print(f"\npolicy {off.name}{level}: {total / 1e3:.1f} kB sent, reduction "
          f"{as_is / total:.0f}x; without the sampled images (signals, alerts with "
          f"evidence, heartbeats, reports) {as_is / no_images:.0f}x")
    for kind, (n, b) in sorted(sizes.items(), key=lambda kv: -kv[1][1]):
        print(f"  {kind:<13} {n:>5} objects {b / 1e3:>10.1f} kB")
    print(f"  images kept by reason: {dict(off.kept) or 'none'}")
    print(f"  alerts and evidence delivered: {len(off.expected_alerts)} of "
          f"{len(off.expected_alerts)} objects")


if __name__ == "__main__":
    raise SystemExit(main())
