"""The whole path under SIGKILL: records and images in, killed at random, restarted, again.

A child process is the agent's data path: it accepts signal records (``SignalBatcher`` with
its journal), queues images (small ones and multipart ones) in a real ``SqliteOutbox``, and
uploads with the ``Uploader`` to a real S3 (SeaweedFS over HTTP). It prints what it has
*accepted* (after ``add``/``put`` returned). The parent kills it with SIGKILL at a random
moment, many times, restarting it each time; a last run drains everything. Then:

* every accepted record is in exactly one batch object, and no record appears twice;
* every accepted image is there, and every object's content matches the digest in its
  key: none was overwritten (ETag and LastModified never change once seen, either);
* the outbox and the journal are empty and pass ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fieldcontract.batch import read_batch
from tests.support.seaweed import SeaweedS3

KILLS = 18
PRODUCING_RUNS = 14

CHILD = r"""
import hashlib, sys, time
from datetime import UTC, datetime
from pathlib import Path
from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.journal import RecordJournal
from fieldagent.policy.loader import validate_policy
from fieldcontract.keys import object_key
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Timeouts
from fieldagent.uplink.uploader import Uploader, UploaderSettings

folder, endpoint, bucket, key_id, secret = sys.argv[1:6]
run, produce = int(sys.argv[6]), sys.argv[7] == "1"
clock = lambda: datetime.now(UTC)
policy = validate_policy({
    "classes": {"image": {"windows": []}},
    "batching": {"max_records": 40, "max_age": "1s"},
}, "crash-test")
box = SqliteOutbox(Path(folder) / "outbox", limits=policy.outbox_limits(), clock=clock)
batcher = SignalBatcher(policy.batching, "gh-1", clock, outbox=box,
                        journal=RecordJournal(Path(folder) / "outbox" / "signals-journal.db"),
                        signals=policy.klass("signals"))
client = make_client(S3Options(endpoint, timeouts=Timeouts(2, 20)),
                     {"access_key_id": key_id, "secret_access_key": secret})
up = Uploader(box, S3Transport(client, bucket, "site"), policy, site="gh-1", clock=clock,
              settings=UploaderSettings(part_size=5 << 20, multipart_threshold=5 << 20,
                                        retry_base_s=0.2, retry_cap_s=1.0, idle_s=0.05))
print("ready", flush=True)

def image(name, size):
    body = (hashlib.sha256(name.encode()).digest() * (size // 32 + 1))[:size]
    key = object_key("image", "gh-1", clock(), hashlib.sha256(body).hexdigest(), suffix=".jpg")
    box.put(NewItem("image", key, 4, clock(), data=body), now=clock())
    print("img", key, flush=True)

for i in range(12 if produce else 0):
    ids = [f"r{run}-{i}-{k}" for k in range(9)]
    batcher.add([{"id": x, "ts": clock().isoformat(), "gcc": 0.41} for x in ids])
    print("rec", *ids, flush=True)
    if i % 4 == 0:
        image(f"img{run}-{i}", 11 << 20 if (run % 5 == 0 and i == 0) else 300_000)
    for _ in range(2):
        up.step()
    batcher.poll()
while True:
    batcher.poll()
    result = up.step()
    if result.action == "idle" and batcher.pending == 0 and box.stats(now=clock()).total_bytes == 0:
        break
    if result.action not in ("sent", "part", "dropped", "retry", "gave_up"):
        time.sleep(min(result.wait_s, 0.05))
print("done", flush=True)
"""


def start_child(folder: Path, s3: SeaweedS3, bucket: str, run: int, produce: bool) -> Any:
    args = [folder, s3.endpoint_url, bucket, s3.credentials["access_key_id"],
            s3.credentials["secret_access_key"], run, "1" if produce else "0"]
    err = (folder / f"child-{run}.stderr").open("w")  # read back when a life ends badly
    return subprocess.Popen([sys.executable, "-c", CHILD, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=err, text=True)


def run_once(folder: Path, s3: SeaweedS3, bucket: str, run: int, kill_after: float | None,
             ) -> list[str]:
    """One life of the child; returns its printed lines (what it accepted)."""
    proc = start_child(folder, s3, bucket, run, produce=run < PRODUCING_RUNS)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", "the child did not start"
    if kill_after is None:
        # not communicate(timeout=...): it reads the raw pipe and would lose what
        # readline() above already buffered (a quick final life prints "done" at once)
        out = proc.stdout.read()
        proc.wait(timeout=240)
        err = (folder / f"child-{run}.stderr").read_text()[-3000:]
        assert out.rstrip().endswith("done"), (
            f"rc {proc.returncode} stdout: {out[-500:]}\nstderr: {err}"
        )
        return out.splitlines()
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    lines = proc.stdout.read().splitlines()
    proc.stdout.close()
    return lines


def snapshot(s3: SeaweedS3, bucket: str) -> dict[str, tuple[str, Any]]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: (o["ETag"], o["LastModified"]) for p in pages for o in p.get("Contents", [])}


def check_no_overwrite(seen: dict[str, tuple[str, Any]], now: dict[str, tuple[str, Any]]) -> None:
    changed = [k for k, v in seen.items() if now.get(k) != v]
    assert not changed, f"objects changed or vanished after being written: {changed[:3]}"
    seen.update(now)


def check_objects(s3: SeaweedS3, bucket: str) -> tuple[list[str], set[str]]:
    """Record ids in all batches (with repeats) and image keys; every digest checked."""
    client = s3.client()
    ids: list[str] = []
    images: set[str] = set()
    for key in snapshot(s3, bucket):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        digest16 = key.rsplit("-", 1)[1].split(".")[0]
        if "/raw/signals/" in key:
            raw = gzip.decompress(body)
            assert hashlib.sha256(raw).hexdigest()[:16] == digest16, key
            header, records = read_batch(body)
            assert header["count"] == len(records) and header["schema_version"] == 1
            ids += [r["id"] for r in records]
        else:
            assert hashlib.sha256(body).hexdigest()[:16] == digest16, key
            images.add(key.removeprefix("site/"))
    return ids, images


def check_databases(folder: Path) -> None:
    for name in ("outbox.db", "signals-journal.db"):
        conn = sqlite3.connect(folder / "outbox" / name)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], name
        finally:
            conn.close()
    conn = sqlite3.connect(folder / "outbox" / "outbox.db")
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    conn.close()


@pytest.mark.slow
def test_every_accepted_record_and_image_arrives_exactly_once_across_sigkills(
    tmp_path: Path, e2e_s3: SeaweedS3, e2e_bucket: str
) -> None:
    rng = random.Random(20260601)
    lines: list[str] = []
    seen: dict[str, tuple[str, Any]] = {}
    for run in range(KILLS):
        lines += run_once(tmp_path, e2e_s3, e2e_bucket, run, kill_after=rng.uniform(0.05, 1.5))
        check_no_overwrite(seen, snapshot(e2e_s3, e2e_bucket))
    lines += run_once(tmp_path, e2e_s3, e2e_bucket, KILLS, kill_after=None)
    check_no_overwrite(seen, snapshot(e2e_s3, e2e_bucket))

    accepted = [x for line in lines if line.startswith("rec ") for x in line.split()[1:]]
    queued = {line.split()[1] for line in lines if line.startswith("img ")}
    ids, images = check_objects(e2e_s3, e2e_bucket)
    repeats = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeats, f"records delivered twice: {repeats[:5]}"
    lost = sorted(set(accepted) - set(ids))
    assert not lost, f"{len(lost)} accepted records never arrived, e.g. {lost[:5]}"
    assert queued <= images, f"accepted images missing: {sorted(queued - images)[:3]}"
    assert len(accepted) >= 9 * PRODUCING_RUNS and any(".jpg" in k for k in images)
    check_databases(tmp_path)
    print(json.dumps({"kills": KILLS, "records": len(accepted), "delivered_records": len(ids),
                      "images": len(images), "objects": len(seen)}))
