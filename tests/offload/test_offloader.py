"""The offloader: what leaves the device for each analysed image, checked on a generated camera
sequence with a known stress episode (records, alerts with their zone's evidence, the sampled
crop or frame the policy asks for, idempotent keys)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fieldagent.config.loader import read_yaml, validate
from fieldagent.config.site import SiteConfig
from fieldagent.demo import START, plans, site_config
from fieldagent.inference.session import StressModel
from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.degrade import DegradeState
from fieldagent.offload.offloader import Offloader, model_doubt
from fieldagent.outbox import MemoryOutbox
from fieldagent.outbox.model import Item
from fieldagent.pipeline import CameraPipeline, ImageResult
from fieldagent.policy.loader import resolve_policy, validate_policy
from fieldagent.policy.model import Policy
from fieldagent.synth import save_jpeg, series
from fieldcontract.batch import read_batch
from tests.support.clock import SimClock

SITE = "test-site"
Run = tuple[list[tuple[ImageResult, Path]], SiteConfig]
FRAMES = 14


def _run(tmp: str) -> Run:
    """One camera of the demo greenhouse at 800 px: chlorosis in one pot from frame 4."""
    plan = plans(800, 3)[0]
    site = validate(SiteConfig, site_config([plan]), "test")
    pipe = CameraPipeline(site, site.cameras[0], StressModel.load(site.model))
    out = []
    stress = {i: (c, 4) for i, (c, _) in plan.stress.items()}
    for frame in series(plan.spec, frames=FRAMES, start=START, interval=timedelta(minutes=15),
                        stress_plan=stress):
        path = Path(tmp) / f"{frame.timestamp:%H%M}.jpg"
        save_jpeg(frame.image, path, quality=88, timestamp=frame.timestamp)
        out.append((pipe.process(path, captured_at=frame.timestamp), path))
    return out, site


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(str(tmp_path_factory.mktemp("cam")))


def _policy(**sampling: Any) -> Policy:
    base = read_yaml(resolve_policy("default"))
    base["sampling"].update(sampling)
    base["degrade"]["ladder"] = ["essential_only"]  # the ladder is not under test here
    return validate_policy(base, "test")


def _offloader(
    policy: Policy, camera: str
) -> tuple[Offloader, MemoryOutbox, SignalBatcher, SimClock]:
    clock = SimClock(START)
    box = MemoryOutbox(clock=clock)
    batcher = SignalBatcher(policy.batching, SITE, clock, outbox=box)
    return Offloader(policy, SITE, box, batcher, [camera], clock=clock, seed=1), box, batcher, clock


def _drain(box: MemoryOutbox) -> list[tuple[Item, bytes]]:
    items = box.lease(now=START + timedelta(days=2), limit=10_000)
    out = []
    for item in items:
        with box.open_payload(item) as f:
            out.append((item, f.read()))
    return out


def _count(box: MemoryOutbox) -> int:
    return sum(s["items"] for k in box.stats(now=START).by_kind_state.values()
               for s in k.values())


def test_every_image_gives_one_image_record_and_one_record_per_zone(run: Any) -> None:
    results, _ = run
    off, box, batcher, clock = _offloader(_policy(random_share=0.0), results[0][0].camera)
    for result, path in results:
        clock.now = result.captured_at
        out = off.handle(result, path)
        assert out.records == 1 + len(result.results)
    batcher.flush()
    records = [r for item, body in _drain(box) if item.kind == "signals"
               for r in read_batch(body)[1]]
    images = [r for r in records if r["type"] == "image"]
    zones = [r for r in records if r["type"] == "zone"]
    assert len(images) == FRAMES
    assert len(zones) == sum(len(r.results) for r, _ in results)
    assert {z["id"] for z in zones} == {r.id for r in results[0][0].results}
    assert all("yellow_fraction" in z["signals"] and z["camera"] == "bench-a" for z in zones)
    assert all(i["status"] == "ok" and "metrics" in i for i in images)


def test_a_rejected_image_is_one_record_with_its_reason(tmp_path: Path, run: Any) -> None:
    _, site = run
    pipe = CameraPipeline(site, site.cameras[0], None)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    result = pipe.process(bad, captured_at=START)
    off, box, batcher, _ = _offloader(_policy(), result.camera)
    out = off.handle(result, bad)
    assert out.records == 1 and out.image_key is None and out.alerts == []
    batcher.flush()
    (_, body), = _drain(box)
    (record,) = read_batch(body)[1]
    assert record["status"] == "rejected" and record["reason"] == result.reason


def test_a_raised_alert_travels_with_the_crop_of_its_zone(run: Any) -> None:
    results, _ = run
    off, box, _, clock = _offloader(_policy(random_share=0.0), results[0][0].camera)
    sent = []
    for result, path in results:
        clock.now = result.captured_at
        sent += off.handle(result, path).alerts
    raised = [a for a in sent if a.alert.state == "raised" and a.alert.zone != "-"]
    assert raised, "the stress episode must raise a zone alert"
    items = {item.key: (item, body) for item, body in _drain(box)}
    for a in raised:
        item, body = items[a.key]
        doc = json.loads(body)
        assert item.kind == "alert" and item.priority == 0
        assert doc["evidence"] == a.evidence_key and doc["zone"] == a.alert.zone
        ev_item, ev_body = items[a.evidence_key]  # type: ignore[index]
        assert ev_item.kind == "alert" and ev_body == a.evidence
        result = next(r for r, _ in results if r.captured_at == a.alert.at)
        box_ = next(z.bbox for z in result.results if z.id == a.alert.zone)
        assert Image.open(io.BytesIO(ev_body)).size == (box_[2] - box_[0], box_[3] - box_[1])


def test_an_uncertain_image_keeps_the_crop_of_its_least_sure_zone(run: Any) -> None:
    results, _ = run
    policy = _policy(random_share=0.0, uncertain={"enabled": True, "top_prob_below": 1.0,
                                                  "entropy_above": None})
    result, path = results[0]
    off, box, _, _ = _offloader(policy, result.camera)
    out = off.handle(result, path)
    assert out.sample is not None and out.sample.reason == "uncertain" and out.image_key
    _, _, zone = model_doubt(result)
    bbox = next(z.bbox for z in result.results if z.id == zone)
    body = dict((i.key, b) for i, b in _drain(box))[out.image_key]
    assert Image.open(io.BytesIO(body)).size == (bbox[2] - bbox[0], bbox[3] - bbox[1])
    confidences = {z.id: z.model.confidence for z in result.results if z.model}
    assert confidences[zone] == min(confidences.values())


def test_a_frame_sample_comes_from_the_camera_file_scaled_to_frame_max_side(run: Any) -> None:
    results, _ = run
    policy = _policy(mode="frame", random_share=1.0, frame_max_side=400,
                     uncertain={"enabled": False}, daily_reference={"enabled": False})
    result, path = results[1]
    off, box, _, _ = _offloader(policy, result.camera)
    out = off.handle(result, path)
    assert out.image_key and out.sample is not None and out.sample.reason == "random"
    body = dict((i.key, b) for i, b in _drain(box))[out.image_key]
    assert max(Image.open(io.BytesIO(body)).size) == 400
    # Without the file (already removed from the inbox) the analysis frame is sent instead.
    off2, box2, _, _ = _offloader(_policy(mode="frame", random_share=1.0, frame_max_side=None,
                                          uncertain={"enabled": False},
                                          daily_reference={"enabled": False}), result.camera)
    out2 = off2.handle(result, path.with_name("gone.jpg"))
    body2 = dict((i.key, b) for i, b in _drain(box2))[out2.image_key]  # type: ignore[index]
    assert result.frame is not None
    assert Image.open(io.BytesIO(body2)).size == result.frame.size


def test_handling_the_same_image_twice_enqueues_nothing_new(run: Any) -> None:
    results, _ = run
    policy = _policy(random_share=1.0, mode="thumbnail", quota_per_hour=100, quota_per_day=1000)
    result, path = results[5]
    off, box, _, _ = _offloader(policy, result.camera)
    first = off.handle(result, path)
    before = _count(box)
    off2 = Offloader(policy, SITE, box, off.batcher, [result.camera], clock=off._clock, seed=1)
    second = off2.handle(result, path)
    assert first.image_key == second.image_key is not None
    assert _count(box) == before


def test_sampler_quotas_survive_a_restart(run: Any) -> None:
    results, _ = run
    policy = _policy(random_share=1.0, mode="thumbnail", quota_per_hour=100, quota_per_day=2,
                     uncertain={"enabled": False}, daily_reference={"enabled": False})
    off, box, batcher, clock = _offloader(policy, results[0][0].camera)
    kept = [off.handle(r, p).image_key for r, p in results[:2]]
    assert all(kept)
    again = Offloader(policy, SITE, box, batcher, [results[0][0].camera], clock=clock, seed=1,
                      sampler_states=off.state())
    assert again.handle(*results[2]).image_key is None  # the day's quota of 2 is spent


def test_a_rejected_image_record_still_has_a_time(tmp_path: Path, run: Any) -> None:
    """An unreadable file has no capture time; the cloud must still be able to place it."""
    _, site = run
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(b"\xff\xd8\xff")
    result = CameraPipeline(site, site.cameras[0], None).process(bad)
    assert result.captured_at is None
    off, box, batcher, clock = _offloader(_policy(), result.camera)
    off.handle(result, bad)
    batcher.flush()
    (_, body), = _drain(box)
    (record,) = read_batch(body)[1]
    assert record["ts"] == clock.now.isoformat()


class _Link:
    """A ``DegradeSource`` whose level the test moves, as the uploader's monitor would."""

    def __init__(self) -> None:
        self.degrade_state = DegradeState()


def test_the_offloader_reads_its_degrade_source_at_each_image(run: Any) -> None:
    results, _ = run
    policy = _policy(random_share=1.0, quota_per_hour=1000, quota_per_day=1000)
    clock, link = SimClock(START), _Link()
    box = MemoryOutbox(clock=clock)
    off = Offloader(policy, SITE, box, SignalBatcher(policy.batching, SITE, clock, outbox=box),
                    [results[0][0].camera], clock=clock, seed=1, degrade=link)
    reasons = []
    for i, (result, path) in enumerate(results):
        link.degrade_state = DegradeState(level=1 if i % 2 else 0)  # essential_only on odd
        clock.now = result.captured_at
        out = off.handle(result, path)
        assert out.sample is not None
        reasons.append((i % 2, out.sample.reason, out.sample.keep))
    assert {(r, k) for odd, r, k in reasons if odd} <= {("essential_only", False),
                                                        ("daily_reference", True)}
    assert ("essential_only", False) in {(r, k) for odd, r, k in reasons if odd}
    assert {r for odd, r, k in reasons if not odd and k} & {"random", "uncertain"}
