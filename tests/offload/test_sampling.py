"""Image sampling: evidence always, quotas hold, uncertain and reference images kept, the random
share matches the policy, everything deterministic; a simulated day keeps few image bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fieldagent.offload.sampling import ImageSampler, SampleDecision, SamplingOverrides
from fieldagent.policy import load_policy
from fieldagent.policy.model import SamplingPolicy

T0 = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)  # a Monday, UTC midnight
FRAME, CROP, THUMB = 4_000_000, 300_000, 25_000  # rough JPEG sizes of a 12 MP camera
SIZE = {"frame": FRAME, "crop": CROP, "thumbnail": THUMB}


def _policy(**changes: object) -> SamplingPolicy:
    base = {"random_share": 0.0, "quota_per_hour": 1000, "quota_per_day": 10_000,
            "daily_reference": {"enabled": False}, "uncertain": {"enabled": False}}
    return SamplingPolicy.model_validate({**base, **changes})


def _run(sampler: ImageSampler, n: int, step: timedelta, **kw: object) -> list[SampleDecision]:
    return [sampler.decide(T0 + i * step, **kw) for i in range(n)]  # type: ignore[arg-type]


def test_alert_evidence_is_always_kept_even_past_quotas() -> None:
    s = ImageSampler(_policy(random_share=1.0, quota_per_hour=1, quota_per_day=1), "cam1")
    kept = _run(s, 50, timedelta(minutes=1), has_alert=True)
    assert all(d.keep and d.reason == "alert_evidence" for d in kept)
    assert all(d.outbox_kind == "alert" and d.mode == "crop" for d in kept)


def test_quotas_per_hour_and_per_day_hold() -> None:
    s = ImageSampler(_policy(random_share=1.0, quota_per_hour=3, quota_per_day=20), "cam1")
    decisions = _run(s, 24 * 60, timedelta(minutes=1))  # one image a minute for a day
    kept = [d for d in decisions if d.keep]
    assert len(kept) == 20
    for hour in range(24):
        assert sum(d.keep for d in decisions[hour * 60:(hour + 1) * 60]) <= 3
    assert {d.reason for d in decisions if not d.keep} == {"quota_hour", "quota_day"}


def test_uncertain_outputs_are_sampled() -> None:
    s = ImageSampler(_policy(uncertain={"top_prob_below": 0.5, "entropy_above": 0.8}), "cam1")
    assert s.decide(T0, model_top_prob=0.45).reason == "uncertain"
    assert s.decide(T0 + timedelta(minutes=1), model_top_prob=0.9, entropy=0.85).keep
    sure = s.decide(T0 + timedelta(minutes=2), model_top_prob=0.95, entropy=0.1)
    assert not sure.keep and sure.reason == "not_sampled"
    assert not s.decide(T0 + timedelta(minutes=3)).keep  # no model output: not uncertain


def test_one_daily_reference_per_camera_per_local_day() -> None:
    policy = _policy(daily_reference={"at": "12:00"})
    cams = [ImageSampler(policy, c, tz="Europe/Amsterdam") for c in ("cam1", "cam2")]
    for cam in cams:
        decisions = _run(cam, 3 * 24 * 12, timedelta(minutes=5))  # three days, every 5 min
        refs = [T0 + i * timedelta(minutes=5) for i, d in enumerate(decisions) if d.keep]
        assert len(refs) == 3 and all(d.reason != "random" for d in decisions)
        assert [r.astimezone(cam.tz).strftime("%H:%M") for r in refs] == ["12:00"] * 3


def test_random_share_matches_policy_and_is_deterministic() -> None:
    policy = _policy(random_share=0.1)
    a = _run(ImageSampler(policy, "cam1", seed=7), 20_000, timedelta(seconds=30))
    b = _run(ImageSampler(policy, "cam1", seed=7), 20_000, timedelta(seconds=30))
    c = _run(ImageSampler(policy, "cam1", seed=8), 20_000, timedelta(seconds=30))
    share = sum(d.keep for d in a) / len(a)
    assert 0.09 < share < 0.11
    assert [d.keep for d in a] == [d.keep for d in b]
    assert [d.keep for d in a] != [d.keep for d in c]


def test_state_survives_a_restart() -> None:
    policy = _policy(random_share=1.0, quota_per_hour=5, daily_reference={"at": "00:00"})
    first = ImageSampler(policy, "cam1")
    assert first.decide(T0).reason == "daily_reference"
    _run(first, 5, timedelta(seconds=1))
    again = ImageSampler.from_state(policy, "cam1", first.state())
    d = again.decide(T0 + timedelta(seconds=30))
    assert not d.keep and d.reason == "quota_hour"  # the quota was spent before the restart
    assert again.decide(T0 + timedelta(hours=1)).keep


def test_overrides_only_shrink_images_and_can_stop_sampling() -> None:
    s = ImageSampler(_policy(random_share=1.0, mode="frame", jpeg_quality=85), "cam1")
    d = s.decide(T0, overrides=SamplingOverrides(mode="thumbnail", jpeg_quality=60))
    assert d.keep and d.mode == "thumbnail" and d.jpeg_quality == 60
    small = ImageSampler(_policy(random_share=1.0, mode="thumbnail", jpeg_quality=50), "cam1")
    d = small.decide(T0, overrides=SamplingOverrides(mode="crop", jpeg_quality=60))
    assert d.mode == "thumbnail" and d.jpeg_quality == 50
    d = s.decide(T0 + timedelta(minutes=1), overrides=SamplingOverrides(essential_only=True))
    assert not d.keep and d.reason == "essential_only"
    evidence = s.decide(T0, has_alert=True, overrides=SamplingOverrides(essential_only=True))
    assert evidence.keep


def test_lower_sampling_factor_scales_random_share() -> None:
    s = ImageSampler(_policy(random_share=0.2), "cam1", seed=3)
    half = _run(s, 10_000, timedelta(minutes=1), overrides=SamplingOverrides(0.5))
    assert 0.08 < sum(d.keep for d in half) / len(half) < 0.12


def test_greenhouse_day_under_default_keeps_far_fewer_image_bytes() -> None:
    """10 cameras, one 12 MP image every 5 minutes, 2 alerts per camera and ~5% unsure outputs."""
    policy = load_policy("default").sampling
    kept_bytes = everything = 0
    for cam in range(10):
        s = ImageSampler(policy, f"cam{cam}", seed=1, tz="Europe/Amsterdam")
        for i in range(288):
            d = s.decide(T0 + timedelta(minutes=5 * i), has_alert=i in (100, 200),
                         model_top_prob=0.4 if i % 20 == 0 else 0.95)
            everything += FRAME
            kept_bytes += SIZE[d.mode] if d.keep else 0
    assert kept_bytes < everything / 10
    assert kept_bytes > 10 * FRAME  # at least the daily reference frames went
