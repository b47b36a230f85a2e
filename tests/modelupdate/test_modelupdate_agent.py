"""``build_updater``: the updater the agent builds from its site config and parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cloudjobs.release.publish import set_percent
from fieldagent.config.secrets import SecretStore
from fieldagent.config.site import SiteConfig
from fieldagent.datadir import DataDir
from fieldagent.modelupdate.agent import build_updater
from fieldagent.modelupdate.config import ModelUpdateConfig
from fieldagent.modelupdate.rollout import bucket
from fieldagent.modelupdate.signing import public_key_b64, public_pem
from fieldagent.modelupdate.store import ModelStore
from fieldcontract.manifest import parse_manifest
from tests.modelupdate.conftest import Setup
from tests.support.clock import SimClock


class Outlet:
    """Stands in for the agent's offloader: keeps what would go into the outbox."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any], datetime | None]] = []

    def put_json(self, kind: str, body: Mapping[str, Any], camera: str | None = None,
                 when: datetime | None = None) -> str:
        self.items.append((kind, dict(body), when))
        return f"key-{len(self.items)}"


@dataclass
class AgentParts:
    site: SiteConfig
    base: Path
    paths: DataDir
    clock: SimClock
    secrets: SecretStore = field(default_factory=SecretStore)
    offloader: Outlet | None = None


def test_the_agent_builds_an_updater_from_relative_paths_and_reports_to_its_outbox(
    setup: Setup,
) -> None:
    base = setup.tmp / "site"
    (base / "keys").mkdir(parents=True)
    (base / "keys" / "release.pub.pem").write_bytes(public_pem(setup.key.public_key()))
    setup.channel_dir = base / "chan"
    setup.publish("0.2.0")
    config = ModelUpdateConfig(enabled=True, channel="file://chan",
                               trusted_keys=["keys/release.pub.pem"], max_boots=1,
                               health_window_seconds=120)
    agent = AgentParts(SiteConfig(), base, DataDir(base / "data"), setup.clock)
    updater = build_updater(config, agent)
    assert updater.device == agent.site.site.device and updater.limits.max_boots == 1
    assert updater.poll().status == "installed"
    assert updater.store.active_dir() == base / "data" / "models" / "slots" / "0.2.0"

    # the agent starts twice on the trial: rolled back at start, before the offloader exists
    ModelStore.open(agent.paths.models)
    restarted = build_updater(config, agent)
    assert restarted.store.active_dir() is None
    agent.offloader = outlet = Outlet()
    setup.publish("0.3.0")
    assert restarted.poll().status == "installed"
    events = [(kind, body["event"], body.get("reason")) for kind, body, _ in outlet.items]
    assert events == [("model_report", "rolled_back", "crash_loop"),
                      ("model_report", "installed", None)]
    assert all(when == setup.clock.now for _, _, when in outlet.items)


def test_the_sections_device_id_overrides_the_sites(setup: Setup) -> None:
    setup.publish("0.2.0", percent=0.0)
    salt = parse_manifest((setup.channel_dir / "manifest.json").read_bytes()).rollout.salt
    site = SiteConfig()
    ours, sites = (bucket(site.site.id, d, salt) for d in ("box-2", site.site.device))
    # a percent that takes exactly one of the two ids
    set_percent(setup.writer(), setup.key, (ours + sites) / 2, setup.clock(), timedelta(days=30))
    outcomes = {}
    for name, device in (("override", "box-2"), ("site", None)):
        config = ModelUpdateConfig(channel=f"file://{setup.channel_dir}", device=device,
                                   trusted_keys=[public_key_b64(setup.key.public_key())])
        agent = AgentParts(site, setup.tmp, DataDir(setup.tmp / name), setup.clock)
        outcomes[name] = build_updater(config, agent).poll().status
    expected_ours = "installed" if ours < sites else "refused"
    assert outcomes["override"] == expected_ours
    assert outcomes["site"] == ("refused" if ours < sites else "installed")
