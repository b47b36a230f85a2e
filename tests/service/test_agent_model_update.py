"""Model updates inside the running agent: a good signed release is adopted and the cameras
analyse with it; a tampered one is refused; a trial the agent keeps crashing on is rolled
back at start; every outcome goes to the cloud as a model report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldagent.config.site import load_site_config
from fieldagent.modelupdate.signing import public_pem
from fieldagent.service.agent import Agent
from fieldagent.uplink.scheduler import BUSY
from tests.modelupdate.conftest import Setup
from tests.service.conftest import camera_day, write_site
from tests.support.clock import SimClock


def _reports(agent: Agent, tmp_path: Path) -> list[dict[str, object]]:
    agent.batcher.flush()
    while agent.upload_step().action in BUSY:
        pass
    return [json.loads(p.read_bytes())
            for p in sorted((tmp_path / "cloud" / "raw" / "model-report").rglob("*.json"))]


def _site(tmp_path: Path, key: Ed25519PrivateKey, max_boots: int = 2) -> Path:
    (tmp_path / "release.pub.pem").write_bytes(public_pem(key.public_key()))
    return write_site(tmp_path, None, model_updates={
        "enabled": True, "channel": "file://channel", "trusted_keys": ["release.pub.pem"],
        "max_boots": max_boots, "health_window_seconds": 3600})


def test_a_signed_release_is_adopted_and_a_tampered_one_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    clock = SimClock()
    setup = Setup(tmp_path, key, clock, tmp_path / "channel")  # type: ignore[arg-type]
    setup.channel_dir.mkdir()
    config = _site(tmp_path, key)
    agent = Agent(load_site_config(config), base_dir=tmp_path, clock=clock, sleep=clock.sleep)
    packaged = agent.model.version
    setup.publish("0.2.0")
    manifest = tmp_path / "channel" / "manifest.json"
    good = manifest.read_bytes()
    manifest.write_bytes(good.replace(b'"percent":100.0', b'"percent":99.0'))  # tampered
    agent.poll_model()
    assert agent.model.version == packaged  # refused: still the packaged model
    manifest.write_bytes(good)
    agent.poll_model()
    assert agent.model.version == "0.2.0"

    inbox = tmp_path / "inbox" / "bench-a"
    (ts, src), = camera_day(tmp_path, frames=1)
    shutil.copy(src, inbox / src.name)
    clock.now = ts
    agent.poll_sources()
    clock.sleep(1)
    agent.poll_sources()
    result = agent.process_next()
    assert result is not None and result.results[0].model is not None
    assert result.results[0].model.model_version == "0.2.0"  # the cameras use it at once
    events = [(r["event"], r.get("reason")) for r in _reports(agent, tmp_path)]
    assert set(events) == {("refused", "bad_signature"), ("installed", None)}
    agent.close()


def test_a_trial_the_agent_keeps_crashing_on_is_rolled_back_at_start(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    clock = SimClock()
    setup = Setup(tmp_path, key, clock, tmp_path / "channel")  # type: ignore[arg-type]
    setup.channel_dir.mkdir()
    config = _site(tmp_path, key, max_boots=2)
    agent = Agent(load_site_config(config), base_dir=tmp_path, clock=clock, sleep=clock.sleep)
    packaged = agent.model.version
    setup.publish("0.2.0")
    agent.poll_model()
    assert agent.model.version == "0.2.0"
    agent.close()
    # The agent keeps restarting on the new model (as it would if it crashed on it) without
    # ever finishing the health window: each start on a trial counts a boot; past max_boots
    # the agent starts on the previous model.
    versions = []
    for _ in range(3):
        agent = Agent(load_site_config(config), base_dir=tmp_path, clock=clock,
                      sleep=clock.sleep)
        versions.append(agent.model.version)
        if agent.model.version != "0.2.0":
            break
        agent.close()
    assert versions[:2] == ["0.2.0", "0.2.0"]
    assert agent.model.version == packaged
    events = [(r["event"], r.get("reason")) for r in _reports(agent, tmp_path)]
    assert ("rolled_back", "crash_loop") in events
    agent.close()
