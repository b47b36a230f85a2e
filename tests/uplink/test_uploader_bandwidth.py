"""The policy's link rules as the uploader applies them: windows, daily budget, rate caps,
the ramp after a reconnect, and degrading when the backlog cannot drain in time.

The transport is a real ``LocalTransport`` (a folder; removing the folder is an unmounted
disk: the link is down) and time is simulated: days pass in milliseconds.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fieldagent.offload.degrade import sampling_overrides
from fieldagent.outbox import NewItem
from fieldagent.policy import Policy, load_policy
from fieldagent.policy.loader import validate_policy
from fieldagent.uplink.breaker import CircuitBreaker
from fieldagent.uplink.budget import ThroughputEstimator
from fieldagent.uplink.uploader import StepResult, UploaderSettings
from tests.support.uplink import MakeRig, UplinkRig, new_item, open_policy


class Rig:
    """An uploader to a folder target (``cloud``) on an ``UplinkRig``, stepped as the
    agent's loop does, with a log of what each step did and when."""

    def __init__(self, base: UplinkRig, **kw: Any) -> None:
        self.clock, self.box, self.problems = base.clock, base.box, base.problems
        self.transport = base.folder("cloud")
        self.root = self.transport.root
        kw.setdefault("breaker", CircuitBreaker("folder", failure_threshold=3, clock=self.clock))
        self.up = base.uploader(self.transport, **kw)
        self.log: list[tuple[datetime, StepResult]] = []

    def put(self, kind: str, count: int, size: int) -> list[NewItem]:
        items = [new_item(kind, f"{kind}{len(self.log) * 1000 + n}", size, self.clock.now)
                 for n in range(count)]
        self.box.put_many(items, now=self.clock.now)
        return items

    def drain(self, until: datetime | None = None) -> list[tuple[datetime, StepResult]]:
        """Steps (with the time each happened) until idle or ``until``."""
        start = len(self.log)
        while until is None or self.clock.now < until:
            now = self.clock.now
            result = self.up.step(now)
            self.log.append((now, result))
            if result.action == "idle" and self.box.stats(now=now).total_bytes == 0:
                break
            if result.action not in ("sent", "part", "retry", "gave_up", "dropped"):
                wait = result.wait_s if until is None else min(result.wait_s, 60.0)
                self.clock.sleep(max(wait, 0.001))
        return self.log[start:]

    def watch(self, duration: timedelta) -> None:
        """Step once a minute for ``duration``, whatever happens (the agent's loop)."""
        end = self.clock.now + duration
        while self.clock.now < end:
            self.up.step(self.clock.now)
            self.clock.sleep(60)

    def sent(self, kind: str, log: list[tuple[datetime, StepResult]]) -> list[datetime]:
        return [t for t, r in log if r.action == "sent" and r.kind == kind]


MakeLink = Callable[..., Rig]


@pytest.fixture
def make_link(make_rig: MakeRig) -> MakeLink:
    """``make_link(policy, start, **uploader_options)``: a ``Rig`` on a fresh ``UplinkRig``."""
    return lambda policy, start, **kw: Rig(make_rig(policy, start=start), **kw)


def test_images_wait_for_the_night_window_while_signals_go_at_once(make_link: MakeLink) -> None:
    rig = make_link(load_policy("default"), datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    rig.put("image", 3, 50_000)
    rig.put("signals", 2, 5_000)
    log = rig.drain()
    assert rig.sent("signals", log) == [rig.sent("signals", log)[0]] * 2
    assert rig.sent("signals", log)[0] == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    images = rig.sent("image", log)
    assert len(images) == 3 and min(images) >= datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
    assert not [r for t, r in log if r.kind == "image" and t.hour < 20]  # not even leased


def test_the_daily_budget_holds_images_until_midnight_but_never_alerts(make_link: MakeLink) -> None:
    policy = load_policy("metered-cellular")  # 30 MB/day, images up to 60% of it
    start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    rig = make_link(policy, start)
    rig.put("image", 10, 3_000_000)
    day1 = rig.drain(until=datetime(2026, 6, 1, 23, 0, tzinfo=UTC))
    assert len(rig.sent("image", day1)) == 6  # 18 MB of 30 MB x 60%
    assert any("share of the daily budget spent" in r.detail for _, r in day1)
    rig.put("alert", 2, 400_000)
    late = rig.drain(until=datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    assert len(rig.sent("alert", late)) == 2 and rig.sent("image", late) == []
    rest = rig.drain()
    assert len(rig.sent("image", rest)) == 4
    assert min(rig.sent("image", rest)) >= datetime(2026, 6, 2, 0, 0, tzinfo=UTC)


def test_an_item_larger_than_its_daily_budget_is_given_up_not_retried(make_link: MakeLink) -> None:
    rig = make_link(load_policy("metered-cellular"), datetime(2026, 6, 1, 8, 0, tzinfo=UTC),
              settings=UploaderSettings(multipart_threshold=64 << 20))
    (big,) = rig.put("image", 1, 20_000_000)
    rig.put("image", 1, 10_000)
    log = rig.drain()
    assert [r.action for _, r in log if r.kind == "image" and r.action != "waiting"] == [
        "gave_up", "sent"]
    assert [p.kind for p in rig.problems] == ["unsendable"] and big.key in rig.problems[0].message
    assert "can never be sent" in rig.box.dead_letters()[0]["error"]


def paced_policy(**link: Any) -> Policy:
    return open_policy(rate="100KB/s", **link)


def test_transfers_are_paced_to_the_rate_cap_through_the_injected_sleep(
    make_link: MakeLink,
) -> None:
    start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    rig = make_link(paced_policy(), start)
    rig.put("image", 20, 50_000)  # 1 MB at 100 KB/s, of which a 200 KB burst at once
    log = rig.drain()
    assert len(rig.sent("image", log)) == 20
    elapsed = (max(rig.sent("image", log)) - start).total_seconds()
    assert 7.0 <= elapsed <= 10.0


def test_the_ramp_starts_again_when_the_link_comes_back(make_link: MakeLink) -> None:
    start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    rig = make_link(paced_policy(ramp={"start_fraction": 0.25, "over": "5m"}), start)
    rig.clock.sleep(600)  # the start-up ramp is over
    rig.put("image", 40, 50_000)
    shutil.rmtree(rig.root)  # the disk is unplugged: the link is down
    down = rig.drain(until=rig.clock.now + timedelta(minutes=3))
    assert "link_down" in [r.action for _, r in down]
    rig.root.mkdir()  # and back
    log = rig.drain()
    sent = rig.sent("image", log)
    assert len(sent) == 40
    # 2 MB at the full 100 KB/s would take 18 s after the 200 KB burst; climbing from 25%
    # over 5 minutes it takes about 56 s.
    assert (max(sent) - min(sent)).total_seconds() > 45


def test_a_backlog_that_cannot_drain_in_time_degrades_sampling_and_says_why(
    make_link: MakeLink, caplog: pytest.LogCaptureFixture
) -> None:
    policy = validate_policy({
        "link": {"horizon": "10m"},
        "classes": {"image": {"windows": []}},
        "degrade": {"step_up_after": "30m", "recover_after": "1h",
                    "ladder": [{"step": "lower_sampling", "factor": 0.5}, "crops_only"]},
    }, "test")
    slow = ThroughputEstimator()
    for _ in range(3):
        slow.observe(256_000, 256.0)  # the link was measured at 1 KB/s
    rig = make_link(policy, datetime(2026, 6, 1, 8, 0, tzinfo=UTC), estimator=slow)
    shutil.rmtree(rig.root)  # nothing gets through while we watch the backlog
    rig.put("image", 40, 50_000)
    with caplog.at_level(logging.WARNING, logger="fieldagent.uplink"):
        rig.drain(until=rig.clock.now + timedelta(minutes=45))
    assert rig.up.degrade_state.level == 2
    assert ("uplink: backlog of 2.0 MB (mostly images) would take 33 min at 0.008 Mbit/s > "
            "10 min horizon: sampling halved, crops only") in caplog.text
    overrides = sampling_overrides(policy, rig.up.degrade_state)  # what the offloader reads
    assert overrides.random_share_factor == 0.5 and overrides.mode == "crop"

    rig.root.mkdir()  # the link is back, the backlog drains
    rig.drain()
    rig.watch(timedelta(hours=3))
    assert rig.up.degrade_state.level == 0
    assert "back to full sampling" in caplog.text
