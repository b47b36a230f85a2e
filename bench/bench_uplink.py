"""Benchmark: the uploader's goodput on a 1 Mbit/s link, and how soon an alert overtakes a
draining image backlog.

A real S3 (SeaweedFS, started here) sits behind ``PoorLink``, a throttling TCP proxy, set
to ``--rate`` (1 Mbit/s = 125 000 bytes/s each way). The outbox holds ``--images`` images
of ``--size`` bytes; the ``Uploader`` runs in its own thread (``run(stop)``) on the real
clock, as in the agent. Once ``--alert-after`` images are acknowledged, the main thread
enqueues an alert (1 kB) while the next image is on the wire.

* goodput = payload bytes acknowledged / time from the uploader's start to the last ack,
  as a share of the link rate (request headers, signatures and answers are the overhead);
* alert latency = enqueue to acknowledgement, against one part's transfer time (here the
  median time between two image acks; each image is one part) + 1 s.

Times come from the uploader's own log lines ("uplink: <kind> <key> uploaded"), stamped by
a logging handler with ``time.monotonic()`` as they are emitted.

    python bench/bench_uplink.py [--rate 125000] [--images 10] [--size 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldagent.outbox import Item, NewItem, SqliteOutbox
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Timeouts
from fieldagent.uplink.uploader import Uploader
from fieldcontract.keys import object_key
from tests.support.proxy import PoorLink
from tests.support.seaweed import run_seaweed


class TimedOutbox(SqliteOutbox):
    """The real outbox, noting when each item is acknowledged (the uploader acks an item
    once the object store has it): the hook this benchmark measures through, rather than
    the uploader's log lines, whose wording and level are free to change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: dict[int, str] = {}
        self.acks: list[tuple[float, str]] = []
        self.changed = threading.Condition()

    def lease(self, **kwargs: Any) -> list[Item]:
        items = super().lease(**kwargs)
        self.kinds.update((it.id, it.kind) for it in items)
        return items

    def ack(self, item_id: int, *, now: datetime) -> None:
        super().ack(item_id, now=now)
        with self.changed:
            self.acks.append((time.monotonic(), self.kinds.get(item_id, "?")))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.acks) >= count, timeout=timeout):
                raise SystemExit(f"only {len(self.acks)} of {count} uploads acknowledged "
                                 f"within {timeout:.0f} s")


def blob(seed: str, size: int) -> bytes:
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


def item(kind: str, seed: str, size: int, priority: int) -> NewItem:
    now = datetime.now(UTC)
    body = blob(seed, size)
    key = object_key(kind, "bench", now, hashlib.sha256(body).hexdigest(), suffix=".bin")
    return NewItem(kind, key, priority, now, data=body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=125_000.0, help="link bytes/s (1 Mbit/s)")
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--size", type=int, default=1_000_000, help="bytes per image")
    ap.add_argument("--alert-after", type=int, default=3, help="images acked before the alert")
    args = ap.parse_args()
    with run_seaweed() as s3, tempfile.TemporaryDirectory(prefix="fa-bench-") as tmp:
        s3.create_bucket("bench")
        with PoorLink(("127.0.0.1", s3.port), rate=args.rate, max_lifetime=1800) as link:
            acks, figures = drain(args, s3.credentials, link, Path(tmp))
    report(args, acks, figures)
    return 0


def drain(args: argparse.Namespace, creds: dict[str, str], link: PoorLink,
          tmp: Path) -> tuple[TimedOutbox, tuple[float, float]]:
    """Run the uploader over the backlog; return the outbox and (start, alert enqueue time)."""
    policy = validate_policy({"classes": {"image": {"windows": []}}}, "bench")
    box = TimedOutbox(tmp / "outbox", limits=policy.outbox_limits())
    box.put_many([item("image", f"i{n}", args.size, 4) for n in range(args.images)],
                 now=datetime.now(UTC))
    # read timeout >= ~4 MiB / link rate: the kernel's send buffer drains at the link's pace
    timeouts = Timeouts(connect=5, read=max(60.0, 5 * 2**20 / args.rate))
    client = make_client(S3Options(link.url, timeouts=timeouts), creds)
    up = Uploader(box, S3Transport(client, "bench", "site"), policy, site="bench")
    stop = threading.Event()
    worker = threading.Thread(target=up.run, args=(stop,), name="uploader")
    start = time.monotonic()
    worker.start()
    box.wait_for(args.alert_after, timeout=600)
    time.sleep(args.size / args.rate / 3)  # a third into the next image's transfer
    enqueued = time.monotonic()
    box.put(item("alert", "alert", 1000, 0), now=datetime.now(UTC))
    box.wait_for(args.images + 1, timeout=1200)
    stop.set()
    worker.join(timeout=60)
    box.close()
    return box, (start, enqueued)


def report(args: argparse.Namespace, acks: TimedOutbox, figures: tuple[float, float]) -> None:
    start, enqueued = figures
    images = [t for t, kind in acks.acks if kind == "image"]
    alert = next(t for t, kind in acks.acks if kind == "alert")
    payload = args.images * args.size + 1000
    goodput = payload / (max(t for t, _ in acks.acks) - start)
    part = statistics.median(b - a for a, b in itertools.pairwise(images))
    latency = alert - enqueued
    print(f"$ python bench/bench_uplink.py --rate {args.rate:.0f} --images {args.images} "
          f"--size {args.size}")
    print(f"link {args.rate * 8 / 1e6:.2f} Mbit/s, {args.images} images x "
          f"{args.size / 1e6:.2f} MB + one 1 kB alert")
    print(f"goodput: {goodput * 8 / 1e6:.3f} Mbit/s = {goodput / args.rate:.1%} of the link "
          f"rate (goal >= 85%)")
    print(f"one part's transfer time (median between image acks): {part:.2f} s")
    print(f"alert latency (enqueued mid-image -> acknowledged): {latency:.2f} s; bound one "
          f"part + 1 s = {part + 1:.2f} s: {'met' if latency <= part + 1 else 'NOT met'}")
    order = [kind for _, kind in acks.acks]
    print(f"upload order: {' '.join('A' if k == 'alert' else 'i' for k in order)}")


if __name__ == "__main__":
    raise SystemExit(main())
