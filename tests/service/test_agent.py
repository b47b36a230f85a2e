"""The whole agent on a simulated clock: images dropped into an inbox come out as grower
alerts on a real webhook receiver and SMTP server, and as objects in the local-folder
cloud; bad files are quarantined; a restart continues without re-alerting."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

from PIL import Image

from fieldagent.config.site import load_site_config
from fieldagent.demo import upload_what_may_go
from fieldagent.service.agent import Agent
from fieldagent.service.status import collect, render
from tests.service.conftest import camera_day, drop_and_run, write_site
from tests.sinks.servers import Mailbox, Receiver, SmtpServer
from tests.support.clock import SimClock


def _agent(config: Path, clock: SimClock) -> Agent:
    return Agent(load_site_config(config), base_dir=config.parent, clock=clock,
                 sleep=clock.sleep)


def _feed(agent: Agent, clock: SimClock, images: list, inbox: Path) -> list:
    return [r for ts, src in images for r in drop_and_run(agent, clock, ts, src, inbox)]


def _cloud(tmp_path: Path, kind: str) -> list[Path]:
    return sorted((tmp_path / "cloud" / "raw" / kind).rglob("*.*"))


def test_images_in_the_inbox_become_alerts_and_uploads(
    tmp_path: Path, receiver: Receiver, smtp: tuple[SmtpServer, Mailbox]
) -> None:
    server, mailbox = smtp
    config = write_site(tmp_path, receiver.url, smtp_port=server.port)
    clock = SimClock()
    agent = _agent(config, clock)
    inbox = tmp_path / "inbox" / "bench-a"
    results = _feed(agent, clock, camera_day(tmp_path), inbox)
    raised = [a for r in results for a in r.alerts if a.state == "raised"]
    assert len(results) == 12 and raised

    # The grower hears it locally: JSON webhook with the evidence crop, and an e-mail.
    hooks = [json.loads(r.body) for r in receiver.wait_for(len(raised))]
    first = next(h for h in hooks if h["state"] == "raised" and h["zone"] == raised[0].zone)
    evidence = base64.b64decode(first["evidence_jpeg_base64"])
    assert Image.open(io.BytesIO(evidence)).format == "JPEG"
    mails = mailbox.wait_for(len(raised))
    assert any(raised[0].zone in str(m.message["Subject"]) or raised[0].zone in
               m.message.get_body(("plain",)).get_content() for m in mails)  # type: ignore[union-attr]
    assert any(part.get_content_type() == "image/jpeg" for m in mails
               for part in m.message.iter_attachments())

    # The cloud gets the alert with its evidence, the signal batches and a heartbeat.
    alerts = [json.loads(p.read_bytes()) for p in _cloud(tmp_path, "alert")]
    assert {(a["rule"], a["zone"]) for a in alerts if a["state"] == "raised"} >= {
        (a.rule, a.zone) for a in raised}
    for a in alerts:
        if a.get("evidence"):
            assert (tmp_path / "cloud" / a["evidence"]).is_file()
    agent.batcher.flush()
    upload_what_may_go(agent)
    assert _cloud(tmp_path, "signals") and _cloud(tmp_path, "heartbeat")
    beat = json.loads(_cloud(tmp_path, "heartbeat")[-1].read_bytes())
    assert beat["site"] == "test-site" and beat["device"] == "box-1"

    # The inbox is emptied (processed originals are deleted by default).
    assert not [p for p in inbox.iterdir() if p.is_file()]
    agent.close()

    # The technician's screen, read from disk while the agent is stopped.
    screen = collect(config, clock.now)
    cam = screen["cameras"][0]
    assert cam["id"] == "bench-a" and cam["last_status"] == "ok"
    assert {a["rule"] for a in screen["alerts"]} >= {raised[-1].rule}
    text = render(screen)
    assert "bench-a" in text and "ACTIVE ALERTS" in text and raised[0].what in text


def test_a_bad_file_is_quarantined_with_its_reason_and_the_camera_goes_on(
    tmp_path: Path
) -> None:
    config = write_site(tmp_path, None)
    clock = SimClock()
    agent = _agent(config, clock)
    inbox = tmp_path / "inbox" / "bench-a"
    images = camera_day(tmp_path, frames=2)
    (inbox / "00-broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated by a power cut")
    results = _feed(agent, clock, images, inbox)
    assert [r.status for r in results] == ["rejected", "ok", "ok"]
    reasons = list((tmp_path / "data" / "quarantine").rglob("*.reason.json"))
    assert len(reasons) == 1
    why = json.loads(reasons[0].read_text())
    assert why["reason"] == results[0].reason and why["camera"] == "bench-a"
    agent.close()


def test_a_restart_keeps_open_alerts_and_does_not_alert_twice(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = write_site(tmp_path, receiver.url)
    clock = SimClock()
    images = camera_day(tmp_path)
    inbox = tmp_path / "inbox" / "bench-a"
    agent = _agent(config, clock)
    first = _feed(agent, clock, images[:10], inbox)
    raised = {(a.rule, a.zone) for r in first for a in r.alerts if a.state == "raised"}
    assert raised
    open_before = set(agent.active_alerts)
    agent.close()

    again = _agent(config, clock)
    assert set(again.active_alerts) == open_before
    later = _feed(again, clock, images[10:], inbox)
    raised_again = {(a.rule, a.zone) for r in later for a in r.alerts if a.state == "raised"}
    assert not raised & raised_again, "an alert still open before the restart was raised again"
    hooks = [json.loads(r.body) for r in receiver.requests]
    keys = [(h["key"], h["state"]) for h in hooks]
    assert len(keys) == len(set(keys)), "a delivered alert was delivered again"
    again.close()


def test_a_silent_camera_raises_once_and_resolves_on_the_next_image(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = write_site(tmp_path, receiver.url)
    clock = SimClock()
    agent = _agent(config, clock)
    inbox = tmp_path / "inbox" / "bench-a"
    images = camera_day(tmp_path, frames=3)
    _feed(agent, clock, images[:1], inbox)
    for _ in range(6):  # an hour without images, housekeeping every 10 minutes
        clock.sleep(600)
        agent.housekeeping()
    silent = [a for a in agent.active_alerts.values() if a.rule == "camera-silent"]
    assert len(silent) == 1 and silent[0].camera == "bench-a"
    shutil.copy(images[1][1], inbox / images[1][1].name)
    clock.sleep(60)
    agent.poll_sources()
    clock.sleep(1)
    agent.poll_sources()
    agent.process_next()
    assert not [a for a in agent.active_alerts.values() if a.rule == "camera-silent"]
    agent.deliver_alerts()
    states = [json.loads(r.body)["state"] for r in receiver.requests
              if json.loads(r.body)["rule"] == "camera-silent"]
    assert states == ["raised", "resolved"]
    agent.close()
