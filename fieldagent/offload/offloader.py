"""What the agent keeps and sends for each analysed image: the seam between analysis and uplink.

For every ``ImageResult`` the :class:`Offloader`

* writes one ``image`` record (status, quality flags and metrics, the sampled image's key) and
  one ``zone`` record per region (signals, model output) into the ``SignalBatcher``: these
  compact records are the main product and cost a few hundred bytes per zone once batched;
* puts every raised or resolved alert into the outbox as JSON (top priority), a raised one
  with its evidence image: the crop of the alert's zone (or the frame for a camera-level
  alert), encoded as the policy's ``alert_evidence`` says;
* asks the camera's ``ImageSampler`` whether to keep the image, and if so encodes exactly
  what the policy asks for: a crop of *the zone that made it interesting* (the least sure
  zone for an uncertain output, one zone drawn deterministically for a random sample),
  the whole frame (from the camera's file, scaled to ``frame_max_side``) or a thumbnail.

Crops and thumbnails are cut from the analysis frame (``analysis.max_side``), the resolution
the model and the signals were computed at, so what an agronomist labels is what the model
saw. Frames come from the original file with JPEG draft decoding, so a 16 MP reference frame
never needs a full-resolution decode.

Object keys are content-derived (``fieldcontract.keys.object_key``), so handling the same image
twice after a crash enqueues nothing new.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from fieldagent.alerts.rules import Alert
from fieldagent.imageref import ImageRef
from fieldagent.offload.batcher import SignalBatcher
from fieldagent.offload.degrade import FULL_OFFLOAD, DegradeSource, sampling_overrides
from fieldagent.offload.journal import ImageMark
from fieldagent.offload.sampling import (
    ImageSampler,
    SampleDecision,
    SamplingOverrides,
)
from fieldagent.outbox.base import Outbox
from fieldagent.outbox.model import NewItem
from fieldagent.pipeline import ImageResult
from fieldagent.policy.model import Policy
from fieldcontract import keys
from fieldcontract.records import (
    AlertRecord,
    Heartbeat,
    ImageRecord,
    ModelReport,
    SampleRef,
    SignalRecord,
    encode_document,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertOut:
    """One alert as it left the device: its outbox key and its evidence, for the sinks."""

    alert: Alert
    key: str
    evidence: bytes | None = None
    evidence_key: str | None = None


@dataclass
class Offloaded:
    """What one image produced for the uplink."""

    records: int = 0
    alerts: list[AlertOut] = field(default_factory=list)
    sample: SampleDecision | None = None
    image_key: str | None = None


class Offloader:
    """Turns analysis results into outbox items and signal records under one policy.

    ``degrade`` is where the current degrade level comes from: the ``Uploader``, which
    measures the link and keeps the level, in the agent; a :class:`HeldLevel` elsewhere
    (full offload by default). The level flows one way, from the uplink to here; at each
    image the offloader turns it into what the samplers keep (``sampling_overrides``).
    ``sampler_states`` restores each camera's quota counters after a restart (see
    :meth:`state`).
    """

    def __init__(
        self,
        policy: Policy,
        site: str,
        outbox: Outbox,
        batcher: SignalBatcher,
        cameras: Sequence[str],
        *,
        clock: Callable[[], datetime],
        tz: str = "UTC",
        degrade: DegradeSource = FULL_OFFLOAD,
        seed: int = 0,
        sampler_states: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.policy, self.site, self.outbox, self.batcher = policy, site, outbox, batcher
        self._clock, self._degrade = clock, degrade
        states = sampler_states or {}
        self.samplers = {
            c: ImageSampler.from_state(policy.sampling, c, dict(states[c]), seed=seed, tz=tz)
            if c in states else ImageSampler(policy.sampling, c, seed=seed, tz=tz)
            for c in cameras
        }

    def state(self) -> dict[str, dict[str, Any]]:
        """The samplers' counters, to persist and hand back after a restart."""
        return {c: s.state() for c, s in self.samplers.items()}

    def _overrides(self) -> SamplingOverrides:
        """What the degrade level, read now from its source, imposes on the samplers."""
        return sampling_overrides(self.policy, self._degrade.degrade_state)

    # -- per image ------------------------------------------------------------------------
    def handle(
        self,
        result: ImageResult,
        source: Path | None = None,
        *,
        ref: ImageRef | None = None,
        checkpoint: Callable[[], str] | None = None,
        deliver: Callable[[AlertOut], None] | None = None,
    ) -> Offloaded:
        """Enqueue what the policy keeps of one analysed image; ``source`` is the camera's
        file (needed only for whole-frame samples; the analysis frame is used otherwise).

        ``ref`` names the image in its records and makes the handling happen once: the
        records, the image's mark and ``checkpoint()`` (the camera's analysis state after
        this image, JSON) are committed in one transaction, after the alerts and the sample
        are in the outbox (content-derived keys: putting them again is a ``duplicate``) and
        ``deliver`` has taken each alert for the local sinks (which recognise a repeat by
        the alert's identity). An image already handled adds no record
        (``Offloaded.records == 0``).
        """
        out = Offloaded()
        when = result.captured_at or self._clock()
        raised = [a for a in result.alerts if a.state == "raised"]
        for alert in result.alerts:
            out.alerts.append(self._alert(alert, result, is_raised=alert in raised))
            if deliver is not None:
                deliver(out.alerts[-1])
        if result.status == "ok" and result.frame is not None:
            doubt = model_doubt(result)
            decision = self.samplers[result.camera].decide(
                when, has_alert=False, overrides=self._overrides(),
                model_top_prob=doubt[0], entropy=doubt[1],
            )
            out.sample = decision
            if decision.keep:
                zone = doubt[2] if decision.reason == "uncertain" else self._random_zone(result)
                body = encode(result, decision, zone=zone, source=source,
                              frame_max_side=self.policy.sampling.frame_max_side)
                out.image_key = self._put("image", body, ".jpg", result.camera, when,
                                          content_type="image/jpeg",
                                          meta={"reason": decision.reason, "mode": decision.mode})
        records = [r.to_json() for r in image_records(result, out, seen_at=when, ref=ref)]
        mark = None if ref is None else ImageMark(
            ref.ledger_key(result.camera), ref.sha256, result.camera, ref.file,
            "ok" if result.status == "ok" else (result.reason or "rejected"))
        state = None if checkpoint is None else (result.camera, checkpoint())
        out.records = self.batcher.add(records, image=mark, checkpoint=state)
        return out

    def put_json(self, kind: str, body: Mapping[str, Any] | Heartbeat | ModelReport,
                 camera: str | None = None, when: datetime | None = None) -> str:
        """Enqueue a small JSON document (heartbeat, model report, ...); returns its key."""
        doc = body if isinstance(body, Mapping) else body.to_json()
        return self._put(kind, encode_document(doc), ".json", camera, when or self._clock(),
                         content_type="application/json")

    # -- internals ---------------------------------------------------------------------------
    def _alert(self, alert: Alert, result: ImageResult, *, is_raised: bool) -> AlertOut:
        evidence = evidence_key = None
        ev = self.policy.sampling.alert_evidence
        if is_raised and ev.enabled and result.frame is not None:
            decision = self.samplers[result.camera].decide(alert.at, has_alert=True,
                                                           overrides=self._overrides())
            zone = None if alert.zone == "-" else alert.zone
            evidence = encode(result, decision, zone=zone, source=None,
                              frame_max_side=self.policy.sampling.frame_max_side)
            evidence_key = self._put("alert", evidence, ".jpg", result.camera, alert.at,
                                     key_kind=keys.EVIDENCE, content_type="image/jpeg")
        key = self.put_alert(alert, alert.to_record(evidence=evidence_key))
        return AlertOut(alert, key, evidence, evidence_key)

    def put_alert(self, alert: Alert, record: AlertRecord | None = None) -> str:
        """Enqueue one alert transition under a key derived from its identity (the episode
        and the transition), not its wording: the same transition emitted again, after a
        crash or by a retry, lands on the same key and is stored once."""
        record = record or alert.to_record()
        camera = alert.camera if alert.camera != "-" else None
        return self._put("alert", encode_document(record.to_json()), ".json", camera,
                         alert.since, digest=record.identity(),
                         content_type="application/json")

    def _random_zone(self, result: ImageResult) -> str | None:
        """One zone, drawn from the image time: random samples stay unbiased across zones."""
        ids = [r.id for r in result.results]
        if not ids:
            return None
        stamp = (result.captured_at or self._clock()).isoformat()
        digest = hashlib.blake2b(f"{result.camera}|{stamp}".encode(), digest_size=4).digest()
        return ids[int.from_bytes(digest, "big") % len(ids)]

    def _put(self, kind: str, body: bytes, suffix: str, camera: str | None, when: datetime,
             *, key_kind: str | None = None, content_type: str = "application/octet-stream",
             meta: Mapping[str, Any] | None = None, digest: str | None = None) -> str:
        c = self.policy.klass(kind)
        now = self._clock()
        key = keys.object_key(key_kind or kind.replace("_", "-"), self.site, when,
                         digest or hashlib.sha256(body).hexdigest(), suffix=suffix,
                         camera=camera)
        self.outbox.put(NewItem(kind, key, c.priority, now, now + timedelta(seconds=c.retention),
                                data=body, content_type=content_type, meta=dict(meta or {})),
                        now=now)
        return key


def image_records(result: ImageResult, out: Offloaded | None = None,
                  seen_at: datetime | None = None,
                  ref: ImageRef | None = None) -> list[SignalRecord]:
    """The records one image adds to the signal batches: an ``image`` record, then one
    ``zone`` record per region (signals at 4 significant digits, model output).

    Every record has a time: the capture time, else ``seen_at`` (when the agent took the
    file: an unreadable image has no EXIF time), so the cloud can always place it. With
    ``ref`` every record also names its image (``image_sha256``, ``file``)."""
    when = result.captured_at or seen_at
    if when is None:
        raise ValueError(f"{result.image}: an image record needs a time; pass seen_at")
    ts = when.astimezone(UTC)
    named: dict[str, Any] = {} if ref is None else {"image_sha256": ref.sha256, "file": ref.file}
    if result.status != "ok" or result.quality is None or result.frame is None:
        return [ImageRecord(ts=ts, camera=result.camera, status=result.status,
                            reason=result.reason, message=result.message, **named)]
    q = result.quality
    sample = None
    if out is not None and out.image_key:
        assert out.sample is not None
        sample = SampleRef(out.image_key, out.sample.reason, out.sample.mode)
    image = ImageRecord(
        ts=ts, camera=result.camera, status=result.status, **named,
        ok=q.ok, flags=tuple(f.name for f in q.flags), metrics=dict(q.metrics),
        shift_px=(round(q.shift_xy[0], 2), round(q.shift_xy[1], 2)),
        size=(result.frame.full_size[0], result.frame.full_size[1]),
        alerts=tuple(a.rule for a in result.alerts if a.state == "raised"),
        sample=sample,
    )
    zones = [r.to_record(result.frame.size, ts=ts, camera=result.camera, **named)
             for r in result.results]
    return [image, *zones]


def model_doubt(result: ImageResult) -> tuple[float | None, float | None, str | None]:
    """The least sure zone of the image: its top probability, its entropy, its id."""
    scored = [(r.model.confidence, r.model.entropy, r.id) for r in result.results if r.model]
    if not scored:
        return None, None, None
    top, _, zone = min(scored)
    return top, max(e for _, e, _ in scored), zone


def encode(result: ImageResult, decision: SampleDecision, *, zone: str | None,
           source: Path | None, frame_max_side: int | None) -> bytes:
    """The JPEG a sample decision asks for (see the module docstring)."""
    assert result.frame is not None
    analysis = Image.fromarray((np.clip(result.frame.rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8))
    if decision.mode == "frame":
        image = _frame(source, frame_max_side) if source is not None else None
        if image is None:  # the file is gone (or unreadable): the analysis frame is the frame
            image = analysis
    elif decision.mode == "thumbnail":
        image = analysis.copy()
        image.thumbnail((decision.thumbnail_side, decision.thumbnail_side))
    else:
        image = analysis.crop(_box(result, zone))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=decision.jpeg_quality, optimize=True)
    return buf.getvalue()


def _frame(source: Path, max_side: int | None) -> Image.Image | None:
    try:
        with Image.open(source) as im:
            if max_side:
                im.draft("RGB", (max_side, max_side))  # DCT scaling: no full decode of 16 MP
            image = ImageOps.exif_transpose(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot re-read the image for a frame sample (%s); sending the "
                    "analysis frame instead", source, exc)
        return None
    if max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _box(result: ImageResult, zone: str | None) -> tuple[int, int, int, int]:
    """The bounding box of one zone, or of every zone when ``zone`` is None; the whole frame
    when there is none (a camera-level alert: fog or a moved camera shows in the frame)."""
    assert result.frame is not None
    boxes = [r.bbox for r in result.results if zone in (None, r.id)]
    if not boxes:
        return (0, 0, *result.frame.size)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))
