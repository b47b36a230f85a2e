"""End to end through a real S3 server behind a link that goes down: images dropped into an
inbox give the grower raised and resolved alerts (webhook and e-mail) while S3 is
unreachable; once the link is back, every signal, alert, evidence and sampled image
reaches the bucket exactly once."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml

from fieldagent.config.site import load_site_config
from fieldagent.service.agent import Agent
from fieldcontract.batch import read_batch
from tests.service.conftest import camera_day, drop_and_run, write_site
from tests.sinks.servers import Mailbox, Receiver, SmtpServer
from tests.support.clock import SimClock
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3

FOG = {5: ("fog", 0.75), 6: ("fog", 0.75), 7: ("fog", 0.75)}  # three fogged images


def _objects(s3: SeaweedS3, bucket: str) -> dict[str, bytes]:
    return s3.objects(bucket)



def test_inbox_to_s3_and_grower_through_an_outage(
    tmp_path: Path, service_s3: SeaweedS3, receiver: Receiver, smtp: tuple[SmtpServer, Mailbox]
) -> None:
    server, mailbox = smtp
    bucket = service_s3.create_bucket(f"agent-{uuid.uuid4().hex[:12]}")
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump({"s3": service_s3.credentials}))
    (tmp_path / "secrets.yaml").chmod(0o600)
    # The default policy, with images allowed by day and a generous random share, so the
    # short test day has sampled images to upload.
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump({
        "name": "test", "classes": {"image": {"windows": []}},
        "sampling": {"random_share": 0.5, "quota_per_hour": 10, "quota_per_day": 100}}))
    with PoorLink(("127.0.0.1", service_s3.port), max_lifetime=300) as link:
        config = write_site(
            tmp_path, receiver.url, smtp_port=server.port, policy="policy.yaml",
            secrets_file="secrets.yaml",
            uplink={"target": f"s3://{bucket}/fleet", "endpoint_url": link.url,
                    "region": service_s3.region, "secret": "s3"})
        clock = SimClock()
        agent = Agent(load_site_config(config), base_dir=tmp_path, clock=clock,
                      sleep=clock.sleep)
        inbox = tmp_path / "inbox" / "bench-a"
        images = camera_day(tmp_path, frames=14, faults=FOG)

        link.refuse_new = True  # the internet is down for the first 10 images
        link.cut_all()
        results = []
        for ts, src in images[:10]:
            results += drop_and_run(agent, clock, ts, src, inbox)
        assert _objects(service_s3, bucket) == {}
        fog = [a for r in results for a in r.alerts if a.rule == "camera-fogged"]
        assert [a.state for a in fog] == ["raised", "resolved"], fog
        # ...and still the grower heard about it, locally, with a resolved message.
        hooks = [json.loads(r.body) for r in receiver.wait_for(3)]
        assert [h["state"] for h in hooks if h["rule"] == "camera-fogged"] == [
            "raised", "resolved"]
        mails = mailbox.wait_for(3)
        subjects = [str(m.message["Subject"]) for m in mails]
        assert any("resolved" in s.lower() for s in subjects), subjects
        assert any(p.get_content_type() == "image/jpeg" for m in mails
                   for p in m.message.iter_attachments())

        link.refuse_new = False  # back online
        for ts, src in images[10:]:
            results += drop_and_run(agent, clock, ts, src, inbox)
        agent.batcher.flush()
        agent.uploader.run_until_idle()  # waits out the retry backoff on the sim clock
        agent.close()

    objects = _objects(service_s3, bucket)
    by_kind: dict[str, list[str]] = {}
    for key in objects:
        assert key.startswith("fleet/raw/")
        by_kind.setdefault(key.split("/")[2], []).append(key)
    records = [rec for k in by_kind["signals"] for rec in read_batch(objects[k])[1]]
    image_ts = [r["ts"] for r in records if r["type"] == "image"]
    assert len(image_ts) == len(set(image_ts)) == 14  # every image exactly once
    alerts = [json.loads(objects[k]) for k in by_kind["alert"]]
    assert {(a["rule"], a["state"]) for a in alerts} >= {
        ("camera-fogged", "raised"), ("camera-fogged", "resolved")}
    for a in alerts:
        if a.get("evidence"):
            assert "fleet/" + a["evidence"] in objects
    samples = [r["sample"]["key"] for r in records if r.get("sample")]
    assert samples and all("fleet/" + k in objects for k in samples)
    assert by_kind.get("image") and by_kind.get("heartbeat")
