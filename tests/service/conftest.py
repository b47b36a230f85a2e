"""Fixtures and helpers for the service tests: a site on disk (inbox folders, a local-folder
uplink, a real webhook receiver and SMTP server on loopback) and a simulated clock."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fieldagent.demo import START, plans, site_config, upload_what_may_go
from fieldagent.pipeline import ImageResult
from fieldagent.service.agent import Agent
from fieldagent.synth import save_jpeg, series
from tests.sinks.servers import Mailbox, Receiver, SmtpServer
from tests.support.clock import SimClock
from tests.support.seaweed import SeaweedS3, run_seaweed


def drop_and_run(agent: Agent, clock: SimClock, when: datetime, src: Path,
                 inbox: Path, *, keep_mtime: bool = False) -> list[ImageResult]:
    """One camera image arriving at ``when``: the file lands in the inbox, and the agent
    takes it, analyses it, does its chores, delivers alerts and uploads what may go now."""
    clock.now = when
    (shutil.copy2 if keep_mtime else shutil.copy)(src, inbox / src.name)
    agent.poll_sources()
    clock.sleep(1)  # settle_seconds 0 still needs two scans to see the file unchanged
    agent.poll_sources()
    results = []
    while (r := agent.process_next()) is not None:
        results.append(r)
    agent.housekeeping()
    agent.deliver_alerts()
    upload_what_may_go(agent)
    return results


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def service_s3() -> Iterator[SeaweedS3]:
    """A real S3 server on loopback for this folder's tests (one per xdist worker)."""
    with run_seaweed() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpServer, Mailbox]]:
    box = Mailbox()
    server = SmtpServer(box, hostname="127.0.0.1", port=0)
    server.start()
    yield server, box
    server.stop()


def write_site(tmp: Path, receiver_url: str | None, *, cameras: int = 1,
               smtp_port: int | None = None, **extra: Any) -> Path:
    """A site config like a technician's: inbox folders, local-folder uplink, sinks."""
    cfg = site_config(plans(640, 3)[:cameras])
    for cam in cfg["cameras"]:
        cam["source"] = {"kind": "inbox", "path": f"inbox/{cam['id']}", "settle_seconds": 0}
    sinks: list[dict[str, Any]] = []
    if receiver_url:
        sinks.append({"kind": "webhook", "id": "grower-hook", "url": receiver_url,
                      "format": "json", "attach_evidence": True})
    if smtp_port:
        sinks.append({"kind": "email", "id": "grower-mail", "host": "127.0.0.1",
                      "port": smtp_port, "security": "none", "sender": "agent@farm.test",
                      "to": ["grower@farm.test"]})
    cfg["alerts"] = {**cfg.get("alerts", {}), "sinks": sinks}
    cfg.update(site={"id": "test-site", "timezone": "UTC", "device": "box-1"},
               uplink={"target": "file://cloud"}, data_dir="data",
               telemetry={"metrics": {"enabled": False}})
    cfg.update(extra)
    (tmp / "cloud").mkdir(exist_ok=True)  # a carried disk or mount: the agent never creates it
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def camera_day(tmp: Path, frames: int = 12, camera: int = 0,
               faults: dict[int, tuple[str, float]] | None = None) -> list[tuple[datetime, Path]]:
    """One camera's images (a chlorosis episode from frame 3, ``faults`` by frame index),
    rendered to a staging folder with EXIF capture times; the tests move them into the
    inbox as a camera would."""
    plan = plans(640, 3)[camera]
    stress = {i: (c, 3) for i, (c, _) in plan.stress.items()}
    out = []
    stage = tmp / "camera-out" / plan.id
    stage.mkdir(parents=True, exist_ok=True)
    for f in series(plan.spec, frames=frames, start=START, interval=timedelta(minutes=15),
                    stress_plan=stress, fault_plan=faults or {}):
        p = stage / f"{f.timestamp:%Y%m%dT%H%M%S}.jpg"
        save_jpeg(f.image, p, quality=88, timestamp=f.timestamp)
        out.append((f.timestamp, p))
    return out
