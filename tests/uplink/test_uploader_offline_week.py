"""A week without internet, and a disk that fills up, simulated in seconds.

A producer makes what a small site makes (signal records every 10 minutes, an image an
hour, heartbeats, a few alerts with evidence) while the link is down: the uploader keeps
stepping (the circuit breaker probes now and then), the outbox holds to its caps and
evicts by the policy. Then the link comes back and everything kept drains to a real S3
(SeaweedFS behind ``PoorLink``, which refuses connections while "offline").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.journal import RecordJournal
from fieldagent.outbox import NewItem, SqliteOutbox
from fieldagent.policy import Policy
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.s3 import S3Transport
from fieldcontract.batch import read_batch
from fieldcontract.keys import object_key
from tests.support.clock import SimClock
from tests.support.proxy import PoorLink
from tests.support.seaweed import SeaweedS3
from tests.support.uplink import MakeRig, S3Factory, UplinkRig, blob

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
TICK = timedelta(minutes=10)


def week_policy(total: str, image_cap: str) -> Policy:
    return validate_policy({
        "link": {"total_max_bytes": total, "horizon": "24h"},
        "classes": {
            "alert": {"max_bytes": "1MB", "when_full": "reject_new"},
            "model_report": {"max_bytes": "100KB"},
            "signals": {"max_bytes": "1MB", "when_full": "thin", "thin_every": 3},
            "heartbeat": {"max_bytes": "30KB", "when_full": "drop_oldest", "retention": "2d"},
            "image": {"max_bytes": image_cap, "when_full": "thin", "thin_every": 2,
                      "retention": "7d", "windows": []},
        },
        "batching": {"max_records": 2000, "max_bytes": "512KB", "max_age": "1h"},
    }, "test")


@dataclass
class Site:
    """What one small site produces while offline, and what it has produced so far."""

    rig: UplinkRig
    batcher: SignalBatcher
    records: int = 0
    alerts: list[str] = field(default_factory=list)
    images: dict[str, datetime] = field(default_factory=dict)
    peak_disk: int = 0
    peak_payload: int = 0

    @property
    def box(self) -> SqliteOutbox:
        return self.rig.box

    @property
    def clock(self) -> SimClock:
        return self.rig.clock

    @property
    def policy(self) -> Policy:
        return self.rig.policy

    def tick(self, n: int) -> None:
        now = self.clock.now
        self.batcher.add([{"ts": now.isoformat(), "zone": f"B-{z}", "gcc_p90": 0.4, "i":
                           self.records + z} for z in range(12)])
        self.records += 12
        if n % 3 == 0:
            self.put("heartbeat", blob(f"hb{n}", 500), ".json")
        if n % 6 == 0:
            self.images[self.put("image", blob(f"img{n}", 100_000), ".jpg")] = now
        if n % 72 == 36:  # two alerts a day, each with its evidence crop
            self.alerts.append(self.put("alert", blob(f"alert{n}", 30_000), ".jpg"))
        stats = self.box.stats(now=now)
        self.peak_payload = max(self.peak_payload, stats.total_bytes)
        self.peak_disk = max(self.peak_disk, stats.disk_bytes or 0)

    def put(self, kind: str, body: bytes, suffix: str) -> str:
        now = self.clock.now
        c = self.policy.klass(kind)
        key = object_key(kind, "gh-1", now, hashlib.sha256(body).hexdigest(), suffix=suffix)
        self.box.put(NewItem(kind, key, c.priority, now, now + timedelta(seconds=c.retention),
                             data=body), now=now)
        return key


@pytest.fixture
def site(make_rig: MakeRig, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    rig = make_rig(week_policy(*request.param), start=T0)
    journal = RecordJournal(tmp_path / "signals.db")
    batcher = SignalBatcher(rig.policy.batching, "gh-1", rig.clock, outbox=rig.box,
                            journal=journal, signals=rig.policy.klass("signals"))
    yield Site(rig, batcher)
    batcher.close()


def offline_then_back(site: Site, s3: S3Factory, weed: SeaweedS3, days: int) -> S3Transport:
    """Produce for ``days`` with the link down, then bring it back and drain everything."""
    with PoorLink(("127.0.0.1", weed.port), max_lifetime=300) as link:
        link.refuse_new = True
        up = site.rig.uploader(s3(endpoint_url=link.url, read_timeout=5.0))
        for n in range(days * 144):
            site.tick(n)
            result = up.step(site.clock.now)
            assert result.action in ("link_down", "retry", "idle"), result
            site.clock.now += TICK
        site.batcher.flush()
        link.refuse_new = False
        results = up.run_until_idle()
    assert site.box.stats(now=site.clock.now).total_bytes == 0
    assert not [r for r in results if r.action in ("gave_up", "dropped")]
    return s3()


def delivered_records(t: S3Transport) -> list[int]:
    ids: list[int] = []
    for key in t.list("raw/signals/"):
        header, records = read_batch(t.get(key))
        assert header["count"] == len(records) and header["site"] == "gh-1"
        ids += [int(r["i"]) for r in records]
    return ids


@pytest.mark.slow
@pytest.mark.parametrize("site", [("50MB", "4MB")], indirect=True)
def test_a_week_offline_keeps_the_right_things_and_drains_on_reconnect(
    site: Site, make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    t = offline_then_back(site, make_s3, seaweed_s3, days=7)
    print(f"week: peak payload {site.peak_payload} B, peak disk {site.peak_disk} B")
    caps: dict[str, Any] = {k: site.policy.klass(k).max_bytes for k in ("image", "heartbeat")}
    assert site.peak_payload <= 1_000_000 + 1_000_000 + caps["image"] + caps["heartbeat"]
    assert site.peak_disk < site.peak_payload + 4_000_000  # payload + SQLite/WAL overhead

    assert sorted(t.list("raw/alert/")) == sorted(site.alerts)  # every alert
    ids = delivered_records(t)
    assert sorted(ids) == list(range(site.records))  # every record, exactly once

    images = [site.images[k] for k in t.list("raw/image/")]
    assert 20 <= len(images) <= caps["image"] // 100_000 < len(site.images)
    end = T0 + timedelta(days=7)
    assert min(images) < end - timedelta(days=5)  # thinned: a sparse week, not its last day
    assert all(end - when < timedelta(days=7) for when in images)  # none past its retention
    drops = site.box.stats(now=site.clock.now).drops
    assert drops["evicted_thin"] > 0 and drops["evicted_drop_oldest"] > 0


@pytest.mark.parametrize("site", [("1500KB", "1500KB")], indirect=True)
def test_a_full_disk_holds_the_cap_evicts_by_policy_and_keeps_every_alert(
    site: Site, make_s3: S3Factory, seaweed_s3: SeaweedS3
) -> None:
    cap = site.policy.link.total_max_bytes
    t = offline_then_back(site, make_s3, seaweed_s3, days=2)
    print(f"disk full: cap {cap} B, peak payload {site.peak_payload} B, peak disk "
          f"{site.peak_disk} B")
    assert site.peak_payload <= cap  # the cap holds exactly: a put that cannot fit evicts first
    assert site.peak_disk < cap + 100_000 + 3_000_000  # + one item + SQLite/WAL overhead
    assert sorted(t.list("raw/alert/")) == sorted(site.alerts)  # never evicted
    assert sorted(delivered_records(t)) == list(range(site.records))  # more urgent than images
    drops = site.box.stats(now=site.clock.now).drops
    assert drops["evicted_thin"] > 0 and drops["cap_reject"] == 0
    assert len(t.list("raw/image/")) < len(site.images)  # images gave way
