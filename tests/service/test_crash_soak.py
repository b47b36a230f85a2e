"""A power cut kills everything at once: the whole ``fieldagent run`` process, SIGKILLed
at random moments (start-up included) while two cameras drop images, against a real S3
server (SeaweedFS) and a real webhook receiver on loopback. Then ``run --drain`` and a
count from S3 alone: every image exactly once (its records, or its quarantine record with
the reason), every alert transition stored once, webhook repeats only inside the
documented window (a kill between the receiver's answer and the delivery's commit).

``FIELDAGENT_SOAK_KILLS`` (default 10) and ``FIELDAGENT_SOAK_SEED`` (default 1) raise it
to a long soak: ``FIELDAGENT_SOAK_KILLS=200 pytest tests/service/test_crash_soak.py``.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from fieldcontract.batch import read_batch
from tests.service.conftest import camera_day, write_site
from tests.sinks.servers import Receiver
from tests.support.seaweed import SeaweedS3

KILLS = int(os.environ.get("FIELDAGENT_SOAK_KILLS", "10"))
SEED = int(os.environ.get("FIELDAGENT_SOAK_SEED", "1"))


class Cameras(threading.Thread):
    """Drops each camera's images into its inbox as cameras do (written under a temporary
    name, renamed in), one every ``interval`` seconds, whatever the agent is doing."""

    def __init__(self, plan: list[tuple[Path, Path]], interval: float) -> None:
        super().__init__(daemon=True)
        self.plan, self.interval = plan, interval
        self.dropped = 0

    def run(self) -> None:
        for src, inbox in self.plan:
            part = inbox / f".{src.name}.part"
            shutil.copyfile(src, part)
            os.replace(part, inbox / src.name)
            self.dropped += 1
            time.sleep(self.interval)


def _site(tmp: Path, s3: SeaweedS3, bucket: str, hook: str) -> Path:
    (tmp / "secrets.yaml").write_text(yaml.safe_dump({"s3": s3.credentials}))
    (tmp / "secrets.yaml").chmod(0o600)
    (tmp / "policy.yaml").write_text(yaml.safe_dump({
        "name": "soak", "batching": {"max_age": "1s", "max_records": 15},
        "classes": {"image": {"windows": []}},
        "sampling": {"random_share": 0.3, "quota_per_hour": 100, "quota_per_day": 1000}}))
    return write_site(
        tmp, hook, cameras=2, policy="policy.yaml", secrets_file="secrets.yaml",
        uplink={"target": f"s3://{bucket}/fleet", "endpoint_url": s3.endpoint_url,
                "region": s3.region, "secret": "s3"},
        service={"scan_interval_seconds": 0.2, "housekeeping_interval_seconds": 1})


def _objects(s3: SeaweedS3, bucket: str) -> dict[str, bytes]:
    return s3.objects(bucket)


def _run(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fieldagent.cli", "run", "--config", str(config), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_whole_agent_killed_at_random_moments_keeps_every_image_and_alert_once(
    tmp_path: Path, service_s3: SeaweedS3, receiver: Receiver
) -> None:
    rng = random.Random(SEED)
    bucket = service_s3.create_bucket(f"soak-{uuid.uuid4().hex[:12]}")
    config = _site(tmp_path, service_s3, bucket, receiver.url)
    days = [camera_day(tmp_path, frames=14, camera=c) for c in (0, 1)]
    inboxes = [tmp_path / "inbox" / cam for cam in ("bench-a", "bench-b")]
    for inbox in inboxes:
        inbox.mkdir(parents=True, exist_ok=True)
    plan = [(src, inboxes[c]) for i in range(14) for c in (0, 1) for _, src in [days[c][i]]]
    digests = {hashlib.sha256(src.read_bytes()).hexdigest(): src.name for src, _ in plan}
    cameras = Cameras(plan, interval=max(0.05, 2.5 * KILLS / len(plan)))
    cameras.start()

    kills = 0
    while kills < KILLS:
        proc = _run(config)
        # moments from start-up (imports, store recovery, files offered again) to busy work
        time.sleep(rng.uniform(0.3, 4.0) if rng.random() < 0.7 else rng.uniform(0.05, 1.5))
        if proc.poll() is not None:
            pytest.fail(f"the agent exited by itself ({proc.returncode}): "
                        f"{proc.stderr.read()[-3000:] if proc.stderr else ''}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    cameras.join(timeout=120)
    assert cameras.dropped == len(plan)

    drain = _run(config, "--drain", "--drain-seconds", "120")
    _, err = drain.communicate(timeout=300)
    assert drain.returncode == 0, err[-3000:]
    assert "safe to cut the power" in err
    status = subprocess.run(
        [sys.executable, "-m", "fieldagent.cli", "status", "--config", str(config)],
        capture_output=True, text=True, timeout=60)
    assert "SAFE TO CUT THE POWER" in status.stdout, status.stdout + status.stderr

    objects = _objects(service_s3, bucket)
    records = [r for k, body in objects.items() if "/raw/signals/" in f"/{k}"
               for r in read_batch(body)[1]]
    images = collections.Counter(r.get("image_sha256") for r in records
                                 if r.get("type") == "image")
    assert set(images) == set(digests), (
        f"missing {[digests[d] for d in set(digests) - set(images)]}, "
        f"unknown {set(images) - set(digests)}")
    doubled = {digests[d]: n for d, n in images.items() if n > 1}
    assert not doubled, f"images recorded more than once: {doubled}"
    zones = collections.Counter((r.get("image_sha256"), r.get("id")) for r in records
                                if r.get("type") == "zone")
    assert max(zones.values()) == 1 and {d for d, _ in zones} <= set(digests)

    alerts = [json.loads(body) for k, body in objects.items()
              if "/raw/alert/" in f"/{k}" and k.endswith(".json")]
    transitions = collections.Counter((a["key"], a["state"]) for a in alerts)
    assert transitions and max(transitions.values()) == 1, transitions
    assert any(state == "raised" for _, state in transitions), "the soak raised no alert"

    hooks: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for req in receiver.requests:
        hooks[req.headers.get("idempotency-key", "")].append(json.loads(req.body))
    delivered = {(h[0]["key"], h[0]["state"]) for h in hooks.values()}
    grower = {t for t in transitions if not t[0].split("/")[3].startswith("uplink-")}
    assert grower <= delivered, f"alerts never delivered: {grower - delivered}"
    repeats = sum(len(v) - 1 for v in hooks.values())
    assert all(all(x == v[0] for x in v) for v in hooks.values())  # a repeat is the same
    assert repeats <= max(1, KILLS // 10), f"{repeats} webhook repeats in {KILLS} kills"
