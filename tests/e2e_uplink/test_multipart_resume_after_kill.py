"""A multipart upload killed mid-way resumes from the saved parts in the next process.

The parent queues one 26 MiB image (six parts: 5 x 5 MiB + 1 MiB). A child uploads it
through a throttled ``PoorLink`` (so parts take long enough to be interrupted), printing
each part it finished; the parent kills it with SIGKILL a moment after the second part,
usually in the middle of the third. A second child finishes the upload. Counted: the
parts each process sent. Finished parts are never sent again; the part cut by the kill is
either adopted from the server's list (it had arrived) or sent once more.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.policy.loader import validate_policy
from fieldcontract.keys import object_key
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3

MIB = 1 << 20
IMAGE = (hashlib.sha256(b"big frame").digest() * (26 * MIB // 32 + 1))[: 26 * MIB]
T0 = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
POLICY = {"classes": {"image": {"windows": []}}}

CHILD = r"""
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from fieldagent.outbox import SqliteOutbox
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.s3 import S3Options, S3Transport, make_client
from fieldagent.uplink.transport import Timeouts
from fieldagent.uplink.uploader import Uploader, UploaderSettings

folder, endpoint, bucket, key_id, secret = sys.argv[1:6]
clock = lambda: datetime.now(UTC)
policy = validate_policy({"classes": {"image": {"windows": []}}}, "resume-test")
box = SqliteOutbox(Path(folder), limits=policy.outbox_limits(), clock=clock)
client = make_client(S3Options(endpoint, timeouts=Timeouts(2, 30)),
                     {"access_key_id": key_id, "secret_access_key": secret})
up = Uploader(box, S3Transport(client, bucket, "site"), policy, site="gh-1", clock=clock,
              settings=UploaderSettings(part_size=5 << 20, multipart_threshold=5 << 20,
                                        retry_base_s=0.2, retry_cap_s=1.0))
print("ready", flush=True)
while True:  # step by step, so each finished part is printed as it happens
    result = up.step()
    if result.action in ("part", "sent"):
        print(result.action, result.part, flush=True)
    if result.action == "sent":
        break
    if result.action not in ("part", "retry"):
        time.sleep(min(result.wait_s, 0.05))
print("done", flush=True)
"""


def child(folder: Path, endpoint: str, s3: SeaweedS3, bucket: str) -> subprocess.Popen[str]:
    args = [folder, endpoint, bucket, s3.credentials["access_key_id"],
            s3.credentials["secret_access_key"]]
    return subprocess.Popen([sys.executable, "-c", CHILD, *map(str, args)],
                            stdout=subprocess.PIPE, text=True)


def parts_of(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.split()[0] in ("part", "sent")
            and line.split()[1] != "None"]


def test_a_killed_multipart_upload_resumes_without_resending_finished_parts(
    tmp_path: Path, e2e_s3: SeaweedS3, e2e_bucket: str
) -> None:
    policy = validate_policy(POLICY, "test")
    key = object_key("image", "gh-1", T0, hashlib.sha256(IMAGE).hexdigest(), suffix=".jpg")
    box = SqliteOutbox(tmp_path, limits=policy.outbox_limits(), clock=lambda: T0)
    box.put(NewItem("image", key, 4, T0, data=IMAGE), now=T0)
    box.close()

    with PoorLink(("127.0.0.1", e2e_s3.port), rate=8 * MIB, max_lifetime=180) as link:
        first = child(tmp_path, link.url, e2e_s3, e2e_bucket)
        assert first.stdout is not None and first.stdout.readline().strip() == "ready"
        before = [first.stdout.readline().strip() for _ in range(2)]
        assert before == ["part 1", "part 2"]
        time.sleep(0.3)  # into the third part
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        before += first.stdout.read().splitlines()
        first.stdout.close()

        second = child(tmp_path, link.url, e2e_s3, e2e_bucket)
        out, _ = second.communicate(timeout=180)
    after = out.splitlines()
    assert after[0] == "ready" and after[-1] == "done", out[-400:]
    sent_first, sent_after = parts_of(before), parts_of(after)
    assert not set(sent_first) & set(sent_after), "a finished part was sent again"
    assert len(sent_after) <= 6 - len(sent_first)
    got = e2e_s3.client().get_object(Bucket=e2e_bucket, Key=f"site/{key}")["Body"].read()
    assert got == IMAGE
    print(f"parts sent before the kill: {sent_first}, after the restart: {sent_after}")
