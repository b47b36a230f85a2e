"""Bandwidth rules with a simulated clock: rate caps, local windows, the daily budget, the
ramp, the throughput estimate, and all of them together in Bandwidth.permit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fieldagent.policy import load_policy
from fieldagent.policy.model import Policy
from fieldagent.uplink.budget import (
    Bandwidth,
    DailyBudget,
    Ramp,
    ThroughputEstimator,
    TimeWindows,
    TokenBucket,
)

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # 12:00 in Amsterdam (CEST, UTC+2)


def _local(h: int, m: int = 0, day: int = 4, tz: ZoneInfo = AMS) -> datetime:
    return datetime(2026, 5, day, h, m, tzinfo=tz).astimezone(UTC)


def _policy(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_policy(path)


@pytest.mark.parametrize("size", [1_000, 40_000, 250_000])
def test_token_bucket_long_run_rate_is_the_configured_rate(size: int) -> None:
    bucket, now, sent = TokenBucket(50_000, 100_000), T0, 0
    for _ in range(200_000):  # a bound, in case waits stopped advancing the clock
        if now >= T0 + timedelta(minutes=10):
            break
        now += timedelta(seconds=bucket.reserve(size, now))
        sent += size
    rate = sent / (now - T0).total_seconds()
    assert rate == pytest.approx(50_000, rel=0.05)


def test_token_bucket_wait_for_does_not_spend() -> None:
    bucket = TokenBucket(1000, 1000)
    bucket.take(1000, T0)
    assert bucket.wait_for(500, T0) == pytest.approx(0.5)
    assert bucket.wait_for(500, T0) == pytest.approx(0.5)
    assert bucket.wait_for(500, T0 + timedelta(seconds=1)) == 0


def test_windows_wrap_midnight_in_local_time() -> None:
    w = TimeWindows.parse(["22:00-06:00"], "Europe/Amsterdam")
    assert w.is_open(_local(23)) and w.is_open(_local(2)) and w.is_open(_local(5, 59))
    assert not w.is_open(_local(6)) and not w.is_open(_local(12)) and not w.is_open(_local(21, 59))
    assert w.is_open(datetime(2026, 5, 4, 21, 30, tzinfo=UTC))  # 23:30 in Amsterdam
    assert not w.is_open(datetime(2026, 5, 4, 5, 0, tzinfo=UTC))  # 07:00 in Amsterdam
    assert w.next_open(_local(12)) == _local(22)
    assert w.next_open(_local(23)) == _local(23)


def test_windows_follow_the_site_time_zone_and_dst() -> None:
    w = TimeWindows.parse(["22:00-06:00"], "America/New_York")
    ny = ZoneInfo("America/New_York")
    assert w.is_open(_local(23, tz=ny)) and not w.is_open(_local(23))  # 23:00 NY != 23:00 AMS
    before_dst = datetime(2026, 3, 7, 12, tzinfo=ny)  # DST starts 2026-03-08 in New York
    opens = w.next_open(before_dst).astimezone(ny)
    assert (opens.hour, opens.minute, opens.day) == (22, 0, 7)


def test_several_windows_and_open_fraction() -> None:
    w = TimeWindows.parse(["12:00-13:00", "22:00-02:00"], "UTC")
    assert w.next_open(datetime(2026, 5, 4, 14, tzinfo=UTC)) == datetime(2026, 5, 4, 22, tzinfo=UTC)
    assert w.open_fraction() == pytest.approx(5 / 24)
    assert TimeWindows.parse([], "UTC").open_fraction() == 1.0


def test_daily_budget_resets_at_local_midnight() -> None:
    b = DailyBudget(30_000_000, "Europe/Amsterdam")
    b.spend(30_000_000, _local(20))
    assert b.remaining(_local(23, 59)) == 0
    assert b.resets_at(_local(20)) == _local(0, day=5)
    assert b.remaining(datetime(2026, 5, 4, 22, 1, tzinfo=UTC)) == 30_000_000  # 00:01 local


def test_daily_budget_state_survives_restart() -> None:
    b = DailyBudget(1_000_000, "UTC")
    b.spend(600_000, T0)
    again = DailyBudget(1_000_000, "UTC")
    again.restore(b.state())
    assert again.remaining(T0 + timedelta(hours=1)) == 400_000


def test_ramp_goes_from_start_fraction_to_one() -> None:
    ramp = Ramp(0.2, 300)
    assert ramp.factor(T0) == 1.0  # no reconnect seen: no ramp
    ramp.reconnected(T0)
    factors = [ramp.factor(T0 + timedelta(seconds=s)) for s in (0, 150, 300, 3000)]
    assert factors == pytest.approx([0.2, 0.6, 1.0, 1.0])


def test_throughput_estimator_converges_and_ignores_tiny_transfers() -> None:
    est, rate, latency = ThroughputEstimator(), 120_000.0, 0.4
    assert est.rate() is None
    for i in range(40):
        nbytes = 500_000 + (i % 5) * 300_000
        est.observe(nbytes, latency + nbytes / rate)
        est.observe(2_000, latency + 2_000 / rate)  # latency-dominated: ~5 KB/s apparent
    assert est.rate() == pytest.approx(rate, rel=0.1)


def test_throughput_estimator_needs_enough_samples() -> None:
    est = ThroughputEstimator(min_samples=3)
    est.observe(1_000_000, 10.0)
    est.observe(1_000_000, 10.0)
    assert est.rate() is None
    est.observe(1_000_000, 10.0)
    assert est.rate() == pytest.approx(100_000)


def test_window_decision_names_the_opening_time(tmp_path: Path) -> None:
    bw = Bandwidth(load_policy("default"), "Europe/Amsterdam")
    d = bw.permit("image", 100_000, _local(12))
    assert not d.allowed and d.reason == "window closed until 20:00"
    assert d.wait_s == pytest.approx(8 * 3600)
    assert bw.permit("image", 100_000, _local(21)).allowed
    assert bw.permit("signals", 100_000, _local(12)).allowed


def test_daily_budget_holds_everything_but_exempt_classes(tmp_path: Path) -> None:
    bw = Bandwidth(load_policy("metered-cellular"), "Europe/Amsterdam")
    now, sent = _local(8), 0
    while (d := bw.permit("signals", 500_000, now)).allowed:
        sent, now = sent + 500_000, now + timedelta(minutes=1)
    assert sent == 15_000_000  # signals' share: half of 30 MB
    assert d.reason.startswith("signals share of the daily budget spent")
    while (d := bw.permit("image", 500_000, now)).allowed:
        sent, now = sent + 500_000, now + timedelta(minutes=1)
    assert sent == 30_000_000 and d.reason == "daily budget spent (30.0 MB), resets 00:00"
    assert bw.permit("alert", 300_000, now).allowed  # alerts always go
    assert bw.permit("heartbeat", 1_000, now + timedelta(seconds=30)).allowed
    assert bw.permit("image", 500_000, _local(0, 1, day=5)).allowed


def test_item_larger_than_budget_is_never_allowed(tmp_path: Path) -> None:
    bw = Bandwidth(load_policy("metered-cellular"), "UTC")
    d = bw.permit("model_report", 5_000_000, T0)  # its share is 10% of 30 MB
    assert not d.allowed and math.isinf(d.wait_s) and "never be sent" in d.reason


def test_local_only_class_is_never_uploaded() -> None:
    d = Bandwidth(load_policy("signals-only")).permit("image", 10_000, T0)
    assert not d.allowed and math.isinf(d.wait_s) and "upload: false" in d.reason


def test_rate_cap_and_ramp_after_reconnect(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "link: {rate: 100KB/s, ramp: {start_fraction: 0.25, over: 10m}}\n")
    bw = Bandwidth(policy, "UTC")
    bw.reconnected(T0)
    assert bw.permit("signals", 200_000, T0).allowed  # the initial burst
    d = bw.permit("signals", 200_000, T0)
    assert not d.allowed and d.reason.startswith("rate cap (total 25.0 KB/s, ramping")
    assert bw.permit("alert", 50_000, T0).allowed  # alerts do not wait for the total cap

    def sent_in(start: datetime, seconds: int) -> int:
        now, sent = start, 0
        for _ in range(100_000):
            if now >= start + timedelta(seconds=seconds):
                return sent
            d = bw.permit("signals", 10_000, now)
            sent += 10_000 if d.allowed else 0
            now += timedelta(seconds=d.wait_s if not d.allowed else 0.01)
        raise AssertionError("the clock stopped advancing")

    early, late = sent_in(T0, 60), sent_in(T0 + timedelta(minutes=20), 60)
    assert early < 0.5 * late and late == pytest.approx(6_000_000, rel=0.1)


def test_class_rate_cap_applies_to_that_class_only(tmp_path: Path) -> None:
    bw = Bandwidth(_policy(tmp_path, "classes: {image: {rate: 10KB/s}}\n"), "UTC")
    assert bw.permit("image", 20_000, T0).allowed
    d = bw.permit("image", 20_000, T0)
    assert not d.allowed and d.reason == "rate cap (image 10.0 KB/s)"
    assert bw.permit("signals", 1_000_000, T0).allowed


def test_bandwidth_budget_survives_restart() -> None:
    policy = load_policy("metered-cellular")
    bw = Bandwidth(policy, "UTC")
    assert bw.permit("signals", 14_000_000, T0).allowed
    again = Bandwidth(policy, "UTC")
    again.restore(bw.state())
    assert not again.permit("signals", 2_000_000, T0 + timedelta(hours=1)).allowed
