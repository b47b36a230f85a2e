"""The heartbeat: JSON as it is, every documented field present, figures from the sources.

The outbox and uploader are the real ones (SQLite file, local-folder transport).
"""

from __future__ import annotations

import json
import re

import pytest

import fieldcontract.records.heartbeat as heartbeat_module
from fieldagent.outbox import NewItem
from fieldagent.policy.loader import validate_policy
from fieldagent.telemetry import AgentStats, build_heartbeat
from fieldagent.uplink.uploader import Uploader
from tests.support.clock import SimClock
from tests.support.uplink import MakeRig, UplinkRig
from tests.telemetry.helpers import T0, ok_image, rejected_image, system_snapshot


def documented_fields() -> list[str]:
    """The field names of the contract's heartbeat table: what the cloud job reads."""
    doc = heartbeat_module.__doc__ or ""
    table = doc.split("Fields\n------\n", 1)[1]
    return re.findall(r"^``(\w+)``", table, flags=re.MULTILINE)


@pytest.fixture
def rig(make_rig: MakeRig) -> UplinkRig:
    return make_rig(validate_policy({"link": {"total_max_bytes": "1GB"}}, "test"), start=T0)


def uploader(rig: UplinkRig) -> Uploader:
    return rig.uploader(rig.folder("bucket"))


def test_heartbeat_round_trips_through_json_with_every_documented_field(rig: UplinkRig) -> None:
    box, clock = rig.box, rig.clock
    stats = AgentStats(clock, latency_window=10, latency_baseline=10)
    for i in range(12):
        stats.observe_image(ok_image("cam-1", latency_ms=10.0 + i, flags=("fog",) if i < 3 else ()))
    stats.observe_image(rejected_image("cam-2", "corrupt"))
    box.put(NewItem("signals", "raw/signals/a.json", 1, T0, data=b"x" * 100), now=T0)
    box.put(NewItem("image", "raw/image/b.jpg", 4, T0, data=b"y" * 5000), now=T0)
    clock.advance(600)
    snap = stats.heartbeat_snapshot()
    hb = build_heartbeat(
        clock.now, site="gh-1", device="edge-01", agent_version="0.1.0", model_version="m1",
        stats=snap, outbox_stats=box.stats(now=clock.now),
        uplink_status=uploader(rig).status(clock.now),
        system=system_snapshot(clock.now), alerts_active=2,
    ).to_json()
    documented = documented_fields()
    assert len(documented) == len(set(documented)) > 40
    assert sorted(hb) == sorted(documented)
    assert json.loads(json.dumps(hb, allow_nan=False)) == hb

    assert hb["schema_version"] == 1 and hb["kind"] == "heartbeat"
    assert hb["uptime_s"] == 600 and hb["interval_s"] == 600
    assert hb["images_total"] == {"cam-1": {"ok": 12}, "cam-2": {"rejected": 1}}
    assert hb["images_interval"] == hb["images_total"]
    assert hb["quality_fail_rate"]["fog"] == pytest.approx(3 / 12, abs=1e-4)
    assert hb["quality_fail_total"]["fog"] == 3
    assert hb["latency_p95_ms"] == pytest.approx(snap.latency.p95_ms, abs=1e-4)
    assert hb["latency_baseline_p95_ms"] is not None
    assert hb["outbox_items"] == 2
    assert hb["outbox_items_by_kind"]["signals"] == 1 and hb["outbox_items_by_kind"]["image"] == 1
    assert hb["outbox_bytes_by_kind"]["image"] == 5000 and hb["outbox_total_bytes"] == 5100
    assert hb["outbox_oldest_age_s"] == 600
    assert hb["uplink_link_state"] == "closed" and hb["uplink_degrade_level"] == 0
    assert hb["disk_free_fraction"] == 0.5 and hb["cpu_temp_c"] == 55.0
    assert hb["camera_last_image_age_s"] == {"cam-1": 600, "cam-2": 600}
    assert hb["alerts_active"] == 2


def test_delivered_items_leave_the_queue_depth(rig: UplinkRig) -> None:
    box, clock = rig.box, rig.clock
    box.put(NewItem("signals", "raw/signals/a.json", 1, T0, data=b"x" * 100), now=T0)
    up = uploader(rig)
    up.run_until_idle()
    hb = build_heartbeat(
        clock.now, site="gh-1", device="edge-01", agent_version="0.1.0", model_version=None,
        stats=AgentStats(clock).heartbeat_snapshot(), outbox_stats=box.stats(now=clock.now),
        uplink_status=up.status(clock.now), system=system_snapshot(), alerts_active=0,
    ).to_json()
    assert hb["outbox_items"] == 0 and hb["outbox_oldest_age_s"] is None
    assert hb["outbox_last_success_at"] is not None


def test_missing_parts_give_nulls_not_missing_keys() -> None:
    clock = SimClock()
    hb = build_heartbeat(
        clock.now, site="gh-1", device="edge-01", agent_version="0.1.0", model_version=None,
        stats=AgentStats(clock).heartbeat_snapshot(), outbox_stats=None, uplink_status=None,
        system=system_snapshot(total=None, free=None, cpu_temp_c=None), alerts_active=0,
    ).to_json()
    assert sorted(hb) == sorted(documented_fields())
    assert json.loads(json.dumps(hb)) == hb
    for key in ("latency_p50_ms", "drift_psi", "outbox_oldest_age_s", "uplink_link_state",
                "disk_free_fraction", "cpu_temp_c", "model_version"):
        assert hb[key] is None, key
    assert all(v is None for v in hb["quality_fail_rate"].values())
