"""Which images to keep for upload: the policy's image sampling, one sampler per camera.

Order of reasons, first match wins:

1. ``alert_evidence`` - the image behind an alert. Always kept (when enabled), exempt from
   quotas, and sent *with the alert* (``outbox_kind="alert"``): the alert class is the most
   urgent, never windowed and exempt from the daily budget, so the picture of the problem
   zone reaches the cloud as fast as the alert. Alert rules already limit alert floods.
2. ``daily_reference`` - the camera's first image at or after ``daily_reference.at`` local
   time, once per local day. Exempt from quotas (one a day is bounded by nature).
3. ``uncertain`` - the model was unsure (hard examples teach the model most).
4. ``random`` - a deterministic pseudo-random share.

Uncertain and random samples count against ``quota_per_hour`` (per UTC hour) and
``quota_per_day`` (per local day), per camera. The random draw is a hash of seed, camera and
image time, so the same image always gets the same answer, across restarts too.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fieldagent.policy.model import ImageMode, SamplingPolicy
from fieldagent.policy.units import parse_clock

Reason = Literal[
    "alert_evidence", "daily_reference", "uncertain", "random",
    "not_sampled", "essential_only", "quota_hour", "quota_day",
]
_MODE_ORDER: dict[str, int] = {"thumbnail": 0, "crop": 1, "frame": 2}


@dataclass(frozen=True)
class SamplingOverrides:
    """What the degradation ladder currently imposes on sampling (all no-ops by default)."""

    random_share_factor: float = 1.0
    mode: ImageMode | None = None  # the largest image mode allowed
    jpeg_quality: int | None = None  # the highest JPEG quality allowed
    essential_only: bool = False  # only alert evidence and daily references


NO_OVERRIDES = SamplingOverrides()


@dataclass(frozen=True)
class SampleDecision:
    """Keep this image or not, why, and how to encode it if kept."""

    keep: bool
    reason: Reason
    mode: ImageMode
    jpeg_quality: int
    thumbnail_side: int
    outbox_kind: Literal["alert", "image"] = "image"


@dataclass(frozen=True)
class SamplerState:
    """What a sampler must remember across restarts (JSON-friendly via ``asdict``)."""

    day: str = ""  # local date the day counter belongs to
    day_count: int = 0
    hour: int = -1  # UTC hour index (seconds // 3600) the hour counter belongs to
    hour_count: int = 0
    reference_day: str = ""  # local date of the last daily reference


class ImageSampler:
    """Decides, image by image, what one camera keeps for upload."""

    def __init__(
        self, policy: SamplingPolicy, camera: str, seed: int = 0,
        tz: ZoneInfo | str = "UTC", state: SamplerState | None = None,
    ) -> None:
        self.policy, self.camera, self.seed = policy, camera, seed
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._state = state or SamplerState()
        self._reference_at = parse_clock(policy.daily_reference.at)

    def state(self) -> dict[str, Any]:
        """The counters to persist; hand them to :meth:`from_state` after a restart."""
        return asdict(self._state)

    @classmethod
    def from_state(
        cls, policy: SamplingPolicy, camera: str, state: dict[str, Any],
        seed: int = 0, tz: ZoneInfo | str = "UTC",
    ) -> ImageSampler:
        """A sampler that continues where a previous process stopped."""
        return cls(policy, camera, seed, tz, SamplerState(**state))

    def decide(
        self, now: datetime, *, has_alert: bool = False, model_top_prob: float | None = None,
        entropy: float | None = None, overrides: SamplingOverrides = NO_OVERRIDES,
    ) -> SampleDecision:
        """Keep the image taken at ``now`` (timezone-aware) or not."""
        p = self.policy
        if has_alert and p.alert_evidence.enabled:
            ev = p.alert_evidence
            return self._decision(True, "alert_evidence", ev.mode, ev.jpeg_quality, overrides)
        if self._reference_due(now):
            ref = p.daily_reference
            self._state = replace(self._state, reference_day=self._local_day(now))
            return self._decision(True, "daily_reference", ref.mode, ref.jpeg_quality, overrides)
        if overrides.essential_only:
            return self._decision(False, "essential_only", p.mode, p.jpeg_quality, overrides)
        reason = self._candidate(now, model_top_prob, entropy, overrides)
        if reason is None:
            return self._decision(False, "not_sampled", p.mode, p.jpeg_quality, overrides)
        refused = self._spend_quota(now)
        if refused:
            return self._decision(False, refused, p.mode, p.jpeg_quality, overrides)
        return self._decision(True, reason, p.mode, p.jpeg_quality, overrides)

    def _candidate(
        self, now: datetime, top_prob: float | None, entropy: float | None,
        overrides: SamplingOverrides,
    ) -> Reason | None:
        """'uncertain' or 'random' if this image is a sample candidate, before quotas."""
        u = self.policy.uncertain
        if u.enabled and (
            (u.top_prob_below is not None and top_prob is not None and top_prob < u.top_prob_below)
            or (u.entropy_above is not None and entropy is not None and entropy > u.entropy_above)
        ):
            return "uncertain"
        share = self.policy.random_share * overrides.random_share_factor
        return "random" if self._draw(now) < share else None

    def _draw(self, now: datetime) -> float:
        """A uniform number in [0, 1) fixed by seed, camera and image time."""
        key = f"{self.seed}|{self.camera}|{now.timestamp():.6f}".encode()
        digest = hashlib.blake2b(key, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _spend_quota(self, now: datetime) -> Reason | None:
        """Count one sample against the quotas, or name the quota that refuses it."""
        s, day, hour = self._state, self._local_day(now), int(now.timestamp() // 3600)
        day_count = s.day_count if s.day == day else 0
        hour_count = s.hour_count if s.hour == hour else 0
        if hour_count >= self.policy.quota_per_hour:
            return "quota_hour"
        if day_count >= self.policy.quota_per_day:
            return "quota_day"
        self._state = replace(s, day=day, day_count=day_count + 1, hour=hour,
                              hour_count=hour_count + 1)
        return None

    def _reference_due(self, now: datetime) -> bool:
        if not self.policy.daily_reference.enabled:
            return False
        local = now.astimezone(self.tz)
        past_time = local.hour * 60 + local.minute >= self._reference_at
        return past_time and self._state.reference_day != local.date().isoformat()

    def _local_day(self, now: datetime) -> str:
        return now.astimezone(self.tz).date().isoformat()

    def _decision(
        self, keep: bool, reason: Reason, mode: ImageMode, quality: int,
        overrides: SamplingOverrides,
    ) -> SampleDecision:
        """Apply the degradation overrides: they can only make images smaller."""
        if overrides.mode is not None and _MODE_ORDER[overrides.mode] < _MODE_ORDER[mode]:
            mode = overrides.mode
        if overrides.jpeg_quality is not None:
            quality = min(quality, overrides.jpeg_quality)
        kind: Literal["alert", "image"] = "alert" if reason == "alert_evidence" else "image"
        return SampleDecision(keep, reason, mode, quality, self.policy.thumbnail_side, kind)
