"""Benchmark: capture-to-alert latency and memory of the running service.

Starts the real service (``fieldagent run``) on a site with inbox folders and a webhook
sink pointing at a receiver in this process, then

1. latency: writes 12 MP JPEGs (4000x3000, ~3 MB) into one camera's inbox the way an FTP
   server does (in place, then closed), alternating a healthy bench and a chlorotic one
   under a rule that raises and resolves on every image, and times each file's close to
   the webhook's arrival (p50, p95);
2. memory: four cameras drop 12 MP images as fast as the agent takes them; the service's
   resident memory (VmRSS) is sampled throughout (steady state = median of the second
   half, and the peak).

Latency is also printed as a ratio to a full Pillow decode of the same file measured in
this process, the machine-independent yardstick the other benchmarks use.

    python bench/bench_alert_latency.py [--trials 20] [--rounds 8]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from fieldagent.datadir import DataDir
from fieldagent.demo import plans as demo_plans
from fieldagent.demo import site_config
from fieldagent.synth import SceneSpec, render

W, H = 4000, 3000


class Receiver:
    """The grower's webhook: records the arrival time of every alert."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.event = threading.Condition()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                with me.event:
                    me.arrivals.append((now, json.loads(body)))
                    me.event.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_after(self, t0: float, timeout: float = 30.0) -> float | None:
        """The first arrival after ``t0``, or None at the deadline."""
        end = time.time() + timeout
        with self.event:
            while True:
                later = [t for t, _ in self.arrivals if t >= t0]
                if later:
                    return min(later)
                if time.time() > end:
                    return None
                self.event.wait(0.05)


def frames(n: int) -> list[bytes]:
    """n distinct 12 MP JPEGs, alternating chlorotic and healthy benches (the rule raises
    on one, resolves on the next: one webhook per image)."""
    out = []
    plan = demo_plans(W, 7)[0]
    for i in range(n):
        stress = {} if i % 2 else {p: ("chlorosis", 0.8) for p in (4, 5, 6)}
        spec = SceneSpec(width=W, height=H, rows=plan.spec.rows, cols=plan.spec.cols,
                         seed=plan.spec.seed, stress=stress, frame_seed=i)
        buf = io.BytesIO()
        Image.fromarray(render(spec).image).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def write_config(work: Path, hook: str, cameras: int) -> Path:
    cfg = site_config(demo_plans(W, 7)[:1])
    zones = cfg["cameras"][0]["zones"]
    cfg["cameras"] = [{"id": f"cam{i + 1}", "zones": zones,
                       "source": {"kind": "inbox", "path": f"inbox/cam{i + 1}"}}
                      for i in range(cameras)]
    cfg["alerts"] = {
        "rules": [{"id": "yellowing", "when": {"signal": "yellow_fraction", "op": ">",
                                               "value": 0.15},
                   "clear_value": 0.10, "for_images": 1, "clear_images": 1,
                   "cooldown_minutes": 0, "severity": "warning"}],
        "sinks": [{"kind": "webhook", "id": "bench", "url": hook, "format": "json"}],
    }
    cfg.update(uplink={"target": "file://cloud"}, data_dir="data",
               telemetry={"metrics": {"enabled": False},
                          "self_alerts": {"enabled": False}})
    (work / "cloud").mkdir()
    path = work / "site.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def drop(folder: Path, name: str, data: bytes) -> float:
    """Write in place and close, as an FTP server does; returns the close time."""
    path = folder / name
    with open(path, "wb") as f:
        f.write(data)
    return time.time()


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def decode_ms(data: bytes, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        Image.open(io.BytesIO(data)).convert("RGB").load()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=20, help="latency samples")
    ap.add_argument("--rounds", type=int, default=8, help="memory phase: images per camera")
    ap.add_argument("--cameras", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fa-latency-"))
    receiver = Receiver()
    print(f"rendering {args.trials} distinct {W}x{H} frames ...", file=sys.stderr)
    images = frames(max(args.trials, 2))
    config = write_config(work, receiver.url, args.cameras)
    for i in range(args.cameras):
        (work / "inbox" / f"cam{i + 1}").mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-m", "fieldagent.cli", "run", "--config",
                             str(config)], stderr=subprocess.PIPE, text=True)
    samples: list[float] = []
    try:
        state = DataDir(work / "data").state  # appears once the agent is up
        deadline = time.time() + 120
        while not state.exists() and time.time() < deadline:
            time.sleep(0.1)
        inbox = work / "inbox" / "cam1"
        misses = 0
        for i in range(args.trials):
            t0 = drop(inbox, f"img{i:04d}.jpg", images[i])
            got = receiver.wait_after(t0)
            if got is None:
                misses += 1
            else:
                samples.append(got - t0)
            time.sleep(0.3)
        rss: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                if (v := rss_mb(proc.pid)) is not None:
                    rss.append(v)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for r in range(args.rounds):
            for c in range(args.cameras):
                drop(work / "inbox" / f"cam{c + 1}", f"load{r:03d}.jpg", images[r % len(images)])
            end = time.time() + 60
            while any((work / "inbox" / f"cam{c + 1}" / f"load{r:03d}.jpg").exists()
                      or any((work / "inbox" / f"cam{c + 1}" / ".taken").glob("*"))
                      for c in range(args.cameras)) and time.time() < end:
                time.sleep(0.05)
        stop.set()
        sampler.join()
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        receiver.server.shutdown()
    base = decode_ms(images[0])
    print(f"$ python bench/bench_alert_latency.py --trials {args.trials} --rounds "
          f"{args.rounds} --cameras {args.cameras}")
    if samples:
        ms = sorted(s * 1000 for s in samples)
        p50 = statistics.median(ms)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        print(f"capture-to-alert latency, {W}x{H} JPEG ({len(images[0]) / 1e6:.1f} MB), "
              f"{len(ms)} samples ({misses} missed): p50 {p50:.0f} ms, p95 {p95:.0f} ms "
              f"(goal p95 <= 500 ms); full Pillow decode of the same file {base:.0f} ms "
              f"-> ratio p50 {p50 / base:.1f}x, p95 {p95 / base:.1f}x")
    else:
        print("no alert arrived: see the service log")
    if rss:
        half = rss[len(rss) // 2:]
        print(f"service RSS with {args.cameras} cameras of 12 MP images: steady state "
              f"{statistics.median(half):.0f} MB, peak {max(rss):.0f} MB (goal <= 250 MB)")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if samples else 1


if __name__ == "__main__":
    raise SystemExit(main())
