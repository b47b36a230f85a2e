"""The real agents' uploads go into the lake: two sites run the field agent over their
cameras (one with a bench turning yellow) into one bucket folder; ingest holds every zone
record exactly once, re-running it changes nothing, a corrupt batch is set aside and
reported, and a query finds the planted zone."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import yaml

from cloudjobs.lake.ingest import run_ingest
from cloudjobs.query.engine import Lake
from cloudjobs.store import LocalStore
from fieldagent.config.site import load_site_config
from fieldagent.demo import upload_what_may_go
from fieldagent.service.agent import Agent
from tests.service.conftest import camera_day, drop_and_run, write_site
from tests.support.clock import SimClock

NOW = datetime(2026, 6, 2, 12, tzinfo=UTC)


def _run_site(root: Path, site: str, camera: int, cloud: Path) -> int:
    """One site's agent over one camera's morning; returns the zone records it produced."""
    root.mkdir()
    config = write_site(root, None, site={"id": site, "timezone": "UTC", "device": "box-1"},
                        uplink={"target": f"file://{cloud}"})
    cfg = yaml.safe_load(config.read_text())
    cam = cfg["cameras"][0]["id"]
    clock = SimClock()
    agent = Agent(load_site_config(config), base_dir=root, clock=clock, sleep=clock.sleep)
    inbox = root / "inbox" / cam
    zones = 0
    for ts, src in camera_day(root, frames=10, camera=camera):
        zones += sum(len(r.results) for r in drop_and_run(agent, clock, ts, src, inbox))
    agent.batcher.flush()
    upload_what_may_go(agent)
    agent.close()
    return zones


def test_agents_uploads_land_in_the_lake_exactly_once(tmp_path: Path) -> None:
    cloud = tmp_path / "bucket"
    cloud.mkdir()
    expected = {"site-a": _run_site(tmp_path / "a", "site-a", 0, cloud),  # chlorosis bench
                "site-b": _run_site(tmp_path / "b", "site-b", 2, cloud)}
    corrupt = cloud / "raw/signals/site=site-b/date=2026-06-01/235959-0123456789abcdef.ndjson.gz"
    corrupt.write_bytes(gzip.compress(b"this is not a signal batch\n"))
    store = LocalStore(cloud)

    reports = {r.site: r for r in run_ingest(store, now=NOW)}
    assert [rej.key for rej in reports["site-b"].rejected] == [
        str(corrupt.relative_to(cloud))]
    assert not reports["site-a"].rejected

    def counts() -> dict[str, int]:
        table = Lake(store).sql("SELECT site, count(*) AS n FROM signals GROUP BY site")
        return dict(zip(table.column("site").to_pylist(), table.column("n").to_pylist(),
                        strict=True))

    assert counts() == expected  # every zone record of every image, once
    again = run_ingest(store, now=NOW)
    assert all(r.ingested == 0 for r in again) and counts() == expected

    top = Lake(store).sql(
        "SELECT site, zone, max(yellow_fraction) AS y FROM signals WHERE trusted "
        "GROUP BY site, zone ORDER BY y DESC LIMIT 1").to_pylist()[0]
    assert top["site"] == "site-a" and top["y"] > 0.15
