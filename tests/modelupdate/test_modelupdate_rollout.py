"""Staged rollout: monotone in the percent, uniform over devices, reshuffled by the salt."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fieldagent.modelupdate.rollout import bucket, in_rollout

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
percents = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(site=ids, device=ids, salt=st.text(min_size=8, max_size=20), low=percents, high=percents)
def test_a_device_in_at_a_low_percent_stays_in_at_a_higher_one(
    site: str, device: str, salt: str, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    if in_rollout(site, device, salt, low):
        assert in_rollout(site, device, salt, high)


@given(site=ids, device=ids, salt=st.text(min_size=8, max_size=20))
def test_zero_percent_takes_nobody_and_hundred_takes_everybody(
    site: str, device: str, salt: str
) -> None:
    assert not in_rollout(site, device, salt, 0.0)
    assert in_rollout(site, device, salt, 100.0)
    assert 0.0 <= bucket(site, device, salt) < 100.0


def test_the_share_of_devices_in_follows_the_percent() -> None:
    devices = [f"dev-{i}" for i in range(20_000)]
    for percent in (1.0, 10.0, 50.0, 90.0):
        share = sum(in_rollout("site-a", d, "salt-0001", percent) for d in devices) / 200.0
        # binomial standard deviation at n=20000 is at most 0.35 percentage points
        assert abs(share - percent) < 1.5, (percent, share)


def test_buckets_are_uniform_over_ten_deciles() -> None:
    counts = [0] * 10
    for i in range(20_000):
        counts[int(bucket("site-b", f"cam-box-{i}", "salt-0002") // 10)] += 1
    assert min(counts) > 1800 and max(counts) < 2200, counts


def test_another_salt_picks_other_devices_first() -> None:
    devices = [f"dev-{i}" for i in range(2000)]
    first = {d for d in devices if in_rollout("s", d, "salt-aaaa", 10.0)}
    second = {d for d in devices if in_rollout("s", d, "salt-bbbb", 10.0)}
    overlap = len(first & second) / len(first)
    assert overlap < 0.25  # independent picks overlap by about 10 %


def test_site_and_device_are_not_concatenated_ambiguously() -> None:
    assert bucket("ab", "c", "salt-0003") != bucket("a", "bc", "salt-0003")
