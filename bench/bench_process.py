"""Benchmark: the whole ``process`` path against a plain full-resolution decode.

The goal is that analysing an image (decode at analysis scale, quality,
segmentation, zones, signals, model) costs no more than Pillow merely decoding
the same file at full resolution: ratio <= 1.0. Both are timed in this one
process, interleaved, so machine noise hits both alike; the figure is the
ratio of medians.

Also reports the peak RSS of a fresh process that analyses one 16 MP image
(goal <= 200 MB), measured in a child process so this script's own memory
does not count.

    python bench/bench_process.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from fieldagent.config.site import SiteConfig
from fieldagent.inference.session import StressModel
from fieldagent.pipeline import CameraPipeline
from fieldagent.synth import SceneSpec, render, save_jpeg

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def full_decode(path: Path) -> None:
    with Image.open(path) as im:
        im.load()


def measure(path: Path, pipeline_for: object, repeat: int) -> tuple[float, float, dict[str, float]]:
    """Median seconds of (full decode, process) interleaved, plus median stage timings."""
    decode_s: list[float] = []
    process_s: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(repeat):
        t = time.perf_counter()
        full_decode(path)
        decode_s.append(time.perf_counter() - t)
        pipe = pipeline_for()  # type: ignore[operator]
        t = time.perf_counter()
        result = pipe.process(path)
        process_s.append(time.perf_counter() - t)
        assert result.status == "ok", result.message
        for k, v in result.timings_ms.items():
            stages.setdefault(k, []).append(v)
    med = {k: statistics.median(v) for k, v in stages.items()}
    return statistics.median(decode_s), statistics.median(process_s), med


def child_rss(path: Path) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process: imports + model only, and after one image."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec,
    # so a child of this (large) benchmark process would report the parent's peak.
    code = (
        "import sys\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024\n"
        "from fieldagent.config.site import SiteConfig\n"
        "from fieldagent.inference.session import StressModel\n"
        "from fieldagent.pipeline import CameraPipeline\n"
        "s=SiteConfig(); p=CameraPipeline(s,s.cameras[0],StressModel.load(s.model))\n"
        "base=hwm()\n"
        "r=p.process(sys.argv[1]); assert r.status=='ok', r.message\n"
        "print(base, hwm())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    site = SiteConfig()
    model = StressModel.load(site.model)

    def pipeline_for() -> CameraPipeline:
        return CameraPipeline(site, site.cameras[0], model)

    with tempfile.TemporaryDirectory() as tmp:
        images = [
            p for p in (REAL / "leaves_16mp.jpg", REAL / "arabidopsis_tray.jpg") if p.exists()
        ]
        for name, (w, h), seed in (
            ("generated_12mp.jpg", (4000, 3000), 1),
            ("generated_16mp.jpg", (4608, 3456), 2),
        ):
            scene = render(SceneSpec(width=w, height=h, seed=seed))
            save_jpeg(scene.image, Path(tmp) / name, quality=90)
            images.append(Path(tmp) / name)
        print(
            f"{'image':<24} {'MP':>5} {'full decode':>12} {'process':>9} {'ratio':>6}  stages (ms)"
        )
        for path in images:
            with Image.open(path) as im:
                mp = im.size[0] * im.size[1] / 1e6
            dec, proc, stages = measure(path, pipeline_for, args.repeat)
            detail = " ".join(f"{k}={v:.0f}" for k, v in stages.items() if k != "total")
            print(
                f"{path.name:<24} {mp:5.1f} {dec * 1e3:10.0f}ms {proc * 1e3:7.0f}ms "
                f"{proc / dec:6.2f}  {detail}"
            )
        base, peak = child_rss(images[0])
        print(
            f"\npeak RSS analysing {images[0].name} in a fresh process: {peak:.0f} MB "
            f"(imports + model alone: {base:.0f} MB; goal <= 200 MB)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
