"""The data folder's layout (``fieldagent.datadir``): a real agent run leaves nothing the
layout does not name, the names stay the ones devices already have on disk, and the docs
draw the same tree as the module."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import fieldagent.datadir
from fieldagent.config.site import SiteConfig, load_site_config
from fieldagent.datadir import DataDir
from fieldagent.modelupdate.signing import public_pem
from fieldagent.service.agent import Agent
from tests.modelupdate.conftest import Setup
from tests.service.conftest import SimClock, camera_day, drop_and_run, write_site

DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _site_with_every_part(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    """An inbox camera, an HTTP camera that does not answer (its snapshot folder is still
    made), signed model updates, and a quarantine folder moved by the config."""
    (tmp_path / "release.pub.pem").write_bytes(public_pem(key.public_key()))
    config = write_site(tmp_path, None, sources={"quarantine_dir": "rejects"}, model_updates={
        "enabled": True, "channel": "file://channel", "trusted_keys": ["release.pub.pem"]})
    cfg = yaml.safe_load(config.read_text())
    cfg["cameras"].append({"id": "door", "source": {
        "kind": "http", "url": "http://127.0.0.1:9/snapshot.jpg", "timeout_seconds": 0.5}})
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return config


def test_a_run_leaves_only_what_the_layout_names(tmp_path: Path) -> None:
    key, clock = Ed25519PrivateKey.generate(), SimClock()
    setup = Setup(tmp_path, key, clock, tmp_path / "channel")  # type: ignore[arg-type]
    setup.channel_dir.mkdir()
    site = load_site_config(_site_with_every_part(tmp_path, key))
    agent = Agent(site, base_dir=tmp_path, clock=clock, sleep=clock.sleep)
    setup.publish("0.2.0")
    agent.poll_model()
    inbox = tmp_path / "inbox" / "bench-a"
    (inbox / "00-broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated by a power cut")
    for when, src in camera_day(tmp_path, frames=2):
        drop_and_run(agent, clock, when, src, inbox)
    agent.close()

    data = DataDir.of_site(site, tmp_path)
    present = sorted(data.root.rglob("*"))
    assert [str(p.relative_to(data.root)) for p in present if data.owner_of(p) is None] == []
    # the run reached every part, so the check above looked at real files
    reached = {data.state, data.uplink_status, data.alerts_db, data.outbox_files.db,
               data.outbox_files.spool, data.journal, data.quarantine / "bench-a",
               data.snapshots, data.model_files.state, data.model_files.slots / "0.2.0"}
    assert reached - set(present) == set()
    assert data.quarantine == data.root / "rejects"


def test_the_names_are_the_ones_devices_already_have(tmp_path: Path) -> None:
    """A renamed file would be a device's state lost at the upgrade: these stay."""
    named = {e.path.relative_to(tmp_path).as_posix() for e in DataDir(tmp_path).entries()}
    assert named == {
        ".", "state.json", "uplink-status.json", "alerts.db", "alerts.db.lock", "quarantine",
        "snapshots", "outbox", "outbox/outbox.db", "outbox/outbox.lock", "outbox/spool",
        "outbox/quarantine", "outbox/signals-journal.db", "models", "models/state.json",
        "models/slots", "models/staging",
    }


@pytest.mark.parametrize(("name", "named"), [
    ("state.json.corrupt", True),  # StateFile sets an unreadable state aside
    (".state.json.tmp", True),  # an atomic write cut short
    (".uplink-status.json.tmp", True),
    ("alerts.db-wal", True),
    ("outbox/outbox.db-shm", True),
    ("outbox/signals-journal.db.corrupt-1a2b3c4d-wal", True),
    ("outbox/spool/17.bin", True),
    ("quarantine/bench-a/20260601T060001Z-00.jpg.reason.json", True),
    ("quarantine/20260601T060001Z-alerts.db", True),
    ("models/state.json.corrupt-1a2b3c4d", True),
    ("models/.state.json.tmp", True),
    ("models/slots/0.2.0/manifest.json", True),
    ("stray.txt", False),
    ("state.json.bak", False),
    ("outbox.db", False),  # the outbox's database belongs in outbox/
    ("outbox/stray.db", False),
    ("outbox/signals-journal.db.old", False),
    ("models/other", False),
])
def test_a_path_is_named_only_when_the_layout_says_so(name: str, named: bool) -> None:
    data = DataDir(Path("/data"))
    assert (data.owner_of(data.root / name) is not None) is named


def test_data_dir_and_sources_folders_resolve_as_the_agent_resolves_them(
    tmp_path: Path,
) -> None:
    site = SiteConfig.model_validate({"data_dir": "data"})
    data = DataDir.of_site(site, tmp_path)
    assert (data.root, data.quarantine, data.snapshots) == (
        tmp_path / "data", tmp_path / "data" / "quarantine", tmp_path / "data" / "snapshots")
    fixed = DataDir.of_site(SiteConfig.model_validate({"data_dir": "/var/lib/fa"}), tmp_path)
    assert (fixed.quarantine, fixed.snapshots) == (
        Path("/var/lib/fa/quarantine"), Path("/var/lib/fa/snapshots"))
    moved = SiteConfig.model_validate(
        {"data_dir": "/var/lib/fa", "sources": {"quarantine_dir": str(tmp_path / "q")}})
    assert DataDir.of_site(moved, tmp_path).quarantine == tmp_path / "q"


def _drawing(text: str) -> list[str]:
    """The tree drawn from ``<data_dir>/`` to the next blank line or code fence, dedented."""
    at = text.index("<data_dir>/")
    body = text[text.rindex("\n", 0, at) + 1:].split("\n\n")[0].split("```")[0]
    return [line.rstrip() for line in textwrap.dedent(body).strip("\n").splitlines()]


def test_the_docs_draw_the_tree_the_module_draws() -> None:
    drawn = _drawing(fieldagent.datadir.__doc__ or "")
    assert len(drawn) > 10 and drawn[0].startswith("<data_dir>/")
    assert _drawing(DOCS.read_text(encoding="utf-8")) == drawn
