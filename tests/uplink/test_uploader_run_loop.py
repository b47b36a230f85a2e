"""``Uploader.run(stop)``: the agent's uploader thread, on the real clock.

It delivers what arrives while it runs, survives a failing callback, and stops promptly
when asked. Generous timeouts only: nothing here asserts how fast.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.local import LocalTransport
from fieldagent.uplink.uploader import UplinkProblem, Uploader, UploaderSettings
from fieldcontract.keys import object_key


def new_item(kind: str, n: int, size: int, priority: int) -> NewItem:
    now = datetime.now(UTC)
    body = (hashlib.sha256(f"{kind}{n}".encode()).digest() * (size // 32 + 1))[:size]
    key = object_key(kind, "gh-1", now, hashlib.sha256(body).hexdigest(), suffix=".bin")
    return NewItem(kind, key, priority, now, data=body)


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_the_loop_delivers_what_arrives_survives_a_bad_callback_and_stops(
    tmp_path: Path,
) -> None:
    policy = validate_policy({"classes": {"image": {"windows": []}}}, "test")
    box = SqliteOutbox(tmp_path / "outbox", limits=policy.outbox_limits(), inline_max=1024)
    (tmp_path / "cloud").mkdir()
    target = LocalTransport(tmp_path / "cloud")

    def failing_callback(problem: UplinkProblem) -> None:
        raise RuntimeError("the alert sink is down")

    up = Uploader(box, target, policy, site="gh-1", on_problem=failing_callback,
                  settings=UploaderSettings(idle_s=0.05))
    images = [new_item("image", n, 20_000, 4) for n in range(3)]
    ids = [r.item_id for r in box.put_many(images, now=datetime.now(UTC))]
    spool = tmp_path / "outbox" / "spool" / f"{ids[1]:012d}.bin"
    spool.write_bytes(b"damaged" + spool.read_bytes()[7:])
    stop = threading.Event()
    worker = threading.Thread(target=up.run, args=(stop,), daemon=True)
    worker.start()
    try:
        alert = new_item("alert", 1, 500, 0)
        box.put(alert, now=datetime.now(UTC))  # arrives while the loop runs
        expected = sorted([images[0].key, images[2].key, alert.key])
        assert wait_until(lambda: target.list("raw/") == expected)
        assert up.problems.last is not None and up.problems.last.kind == "corrupt"
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    box.close()
