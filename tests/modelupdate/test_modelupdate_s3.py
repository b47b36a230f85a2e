"""End to end over real S3 (SeaweedFS): ``cloudjobs release`` publishes, the device polls.

The device reads with the server's read-only identity: a channel needs no write access.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from cloudjobs.release import publish
from cloudjobs.release.keys import create_keys, read_public_key
from fieldagent.modelupdate.channel import open_channel
from fieldagent.modelupdate.signing import trusted_keys
from tests.modelupdate.conftest import Setup, make_model
from tests.support.seaweed import SeaweedS3


@pytest.fixture
def cloud_env(monkeypatch: pytest.MonkeyPatch, release_s3: SeaweedS3, tmp_path: Path) -> None:
    """The publisher's S3 credentials come from the environment, as in a cloud job."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", release_s3.credentials["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", release_s3.credentials["secret_access_key"])
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_publish_to_s3_and_update_a_device_from_it(
    setup: Setup, release_s3: SeaweedS3, cloud_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = release_s3.create_bucket(f"rel-{uuid.uuid4().hex[:12]}")
    channel = f"s3://{bucket}/channels/stable"
    key_dir = setup.tmp / "keys"
    create_keys(key_dir)

    def release(*args: str) -> int:
        return publish.main([*args, "--channel", channel, "--key", str(key_dir),
                             "--endpoint-url", release_s3.endpoint_url])

    model = make_model(setup.tmp / "m2", "0.2.0")
    options = ["--percent", "100", "--latency-budget-ms", "1000", "--health-window", "60s",
               "--min-samples", "5"]
    assert release("--model", str(model), *options) == 0
    assert release("--model", str(model), *options) == 0  # create-only: same bytes, no-op

    reader = open_channel(channel, endpoint_url=release_s3.endpoint_url,
                          credentials=release_s3.reader_credentials)
    updater = setup.updater(reader=reader,
                            trusted=trusted_keys([read_public_key(key_dir)]))
    assert updater.poll().status == "installed"
    assert updater.load_active().version == "0.2.0"
    for _ in range(5):
        updater.record(2.0, ok=True)
    setup.clock.advance(600)
    assert updater.tick().decision == "commit"

    # the next version: staged at 0 % (halted) it is refused, widened it installs,
    # but not while its artifact in the bucket is damaged
    model3 = make_model(setup.tmp / "m3", "0.3.0")
    assert release("--model", str(model3), *options) == 0
    assert release("--halt") == 0
    assert updater.poll().reason == "not_in_rollout"
    admin = release_s3.client()
    onnx_key = "channels/stable/models/stress/0.3.0/stress.int8.onnx"
    data = bytearray(admin.get_object(Bucket=bucket, Key=onnx_key)["Body"].read())
    data[1000] ^= 0xFF
    admin.put_object(Bucket=bucket, Key=onnx_key, Body=bytes(data))
    assert release("--advance", "100") == 0
    result = updater.poll()
    assert (result.status, result.reason) == ("refused", "artifact_corrupt")
    assert updater.load_active().version == "0.2.0"

    # a retrained model under a published version is refused by the bucket's create-only put
    manifest = json.loads((model3 / "manifest.json").read_text())
    manifest["notes"] = "changed"
    (model3 / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert release("--model", str(model3), *options) == 1
    assert "bump the model version" in capsys.readouterr().err
    assert [r["event"] for r in setup.reports] \
        == ["installed", "committed", "refused", "refused"]
