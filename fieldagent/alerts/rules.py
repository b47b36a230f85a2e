"""Alert rules evaluated on each image: pure decisions plus a small per-zone memory.

A rule raises once when its condition has held for ``for_images`` images and
``for_minutes`` minutes, stays quiet while it keeps holding (no floods), and
sends one "resolved" when the condition has cleared for ``clear_images`` images,
past ``clear_value`` when hysteresis is configured. Untrusted signals (an image
that failed quality) neither count towards nor against a signal rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal

from fieldagent.alerts.config import AlertRule
from fieldcontract.records import AlertRecord

CAMERA_LEVEL = "-"  # the zone id used for camera-wide observations (quality flags)


@dataclass(frozen=True)
class Observation:
    """What one image says about one zone (or the whole camera, zone ``-``)."""

    zone: str
    signals: Mapping[str, float]
    flags: frozenset[str]
    trusted: bool


@dataclass(frozen=True)
class Alert:
    """A raised or resolved alert, ready for a sink."""

    site: str
    camera: str
    zone: str
    rule: str
    state: Literal["raised", "resolved"]
    severity: str
    what: str
    why: dict[str, float | str]
    at: datetime
    since: datetime
    message: str

    @property
    def key(self) -> str:
        """Stable id of the episode: the same for its 'raised' and its 'resolved'."""
        return f"{self.site}/{self.camera}/{self.zone}/{self.rule}/{self.since.isoformat()}"

    def to_record(self, evidence: str | None = None) -> AlertRecord:
        """The alert as it crosses to the cloud; ``evidence`` is its evidence image's key."""
        return AlertRecord(
            site=self.site, camera=self.camera, zone=self.zone, rule=self.rule,
            state=self.state, severity=self.severity, what=self.what, why=dict(self.why),
            at=self.at, since=self.since, message=self.message, key=self.key,
            evidence=evidence)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the record's JSON (the sinks store and send the same)."""
        return self.to_record().to_json()


@dataclass
class _Track:
    active: bool = False
    streak: int = 0
    clear_streak: int = 0
    since: datetime | None = None
    last_raised: datetime | None = None
    last_value: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


class AlertEngine:
    """Evaluates the configured rules for one camera, image after image."""

    def __init__(self, rules: Sequence[AlertRule], *, site: str, camera: str) -> None:
        self._rules = [r for r in rules if _matches(camera, r.cameras)]
        self._site, self._camera = site, camera
        self._tracks: dict[tuple[str, str], _Track] = {}

    def evaluate(self, at: datetime, observations: Iterable[Observation]) -> list[Alert]:
        """Feed one image's observations; return the alerts that change state now."""
        out: list[Alert] = []
        for obs in observations:
            for rule in self._rules:
                if _matches(obs.zone, rule.zones):
                    alert = self._step(rule, obs, at)
                    if alert is not None:
                        out.append(alert)
        return out

    def active(self) -> list[tuple[str, str]]:
        """(rule, zone) pairs whose alert is currently raised."""
        return sorted(k for k, t in self._tracks.items() if t.active)

    def _step(self, rule: AlertRule, obs: Observation, at: datetime) -> Alert | None:
        verdict = _judge(rule, obs)
        if verdict is None:
            return None
        holds, clear, value = verdict
        track = self._tracks.setdefault((rule.id, obs.zone), _Track())
        track.last_value = value
        if track.active:
            track.clear_streak = track.clear_streak + 1 if clear else 0
            if track.clear_streak >= rule.clear_images:
                track.active, track.streak, track.clear_streak = False, 0, 0
                return self._alert(rule, obs, at, track, "resolved")
            return None
        if not holds:
            track.streak, track.since = 0, None
            return None
        track.streak += 1
        track.since = track.since or at
        if self._due(rule, track, at):
            track.active, track.clear_streak, track.last_raised = True, 0, at
            return self._alert(rule, obs, at, track, "raised")
        return None

    @staticmethod
    def _due(rule: AlertRule, track: _Track, at: datetime) -> bool:
        assert track.since is not None
        held_long_enough = at - track.since >= timedelta(minutes=rule.for_minutes)
        cooled = track.last_raised is None or at - track.last_raised >= timedelta(
            minutes=rule.cooldown_minutes
        )
        return track.streak >= rule.for_images and held_long_enough and cooled

    def _alert(
        self, rule: AlertRule, obs: Observation, at: datetime, track: _Track, state: str
    ) -> Alert:
        assert track.since is not None or state == "resolved"
        since = track.since or at
        why = _why(rule, obs, track)
        what = rule.description or rule.id
        where = f"camera {self._camera}" + (
            "" if obs.zone == CAMERA_LEVEL else f", zone {obs.zone}"
        )
        verb = "RESOLVED" if state == "resolved" else rule.severity.upper()
        message = f"[{verb}] {self._site}: {where}: {what} ({_why_text(why, state)})"
        if state == "resolved":
            track.since = None
        return Alert(
            self._site,
            self._camera,
            obs.zone,
            rule.id,
            state,  # type: ignore[arg-type]
            rule.severity,
            what,
            why,
            at,
            since,
            message,
        )

    def state(self) -> dict[str, Any]:
        """JSON-ready memory, so a restart does not re-raise or forget open alerts."""
        return {
            f"{rule}|{zone}": {
                "active": t.active,
                "streak": t.streak,
                "clear_streak": t.clear_streak,
                "since": t.since.isoformat() if t.since else None,
                "last_raised": t.last_raised.isoformat() if t.last_raised else None,
            }
            for (rule, zone), t in self._tracks.items()
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        for key, s in state.items():
            rule, zone = key.split("|", 1)
            self._tracks[(rule, zone)] = _Track(
                active=bool(s["active"]),
                streak=int(s["streak"]),
                clear_streak=int(s["clear_streak"]),
                since=datetime.fromisoformat(s["since"]) if s["since"] else None,
                last_raised=datetime.fromisoformat(s["last_raised"]) if s["last_raised"] else None,
            )


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def _judge(rule: AlertRule, obs: Observation) -> tuple[bool, bool, float | None] | None:
    """(condition holds, condition has cleared, value) or None when this image says nothing."""
    cond = rule.when
    if cond.flag is not None:
        present = cond.flag in obs.flags
        return present, not present, None
    if obs.zone == CAMERA_LEVEL or not obs.trusted:
        return None
    value = obs.signals.get(cond.signal or "")
    if value is None or not math.isfinite(value):
        return None
    assert cond.value is not None
    holds = _compare(value, cond.op, cond.value)
    clear_at = rule.clear_value if rule.clear_value is not None else cond.value
    cleared = not _compare(value, cond.op, clear_at) and value != clear_at
    return holds, cleared, value


def _compare(value: float, op: str, threshold: float) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]


def _why(rule: AlertRule, obs: Observation, track: _Track) -> dict[str, float | str]:
    cond = rule.when
    if cond.flag is not None:
        return {"flag": cond.flag, "images": float(track.streak)}
    assert cond.signal is not None and cond.value is not None
    why: dict[str, float | str] = {
        "signal": cond.signal,
        "value": round(float(track.last_value or 0.0), 4),
        "threshold": cond.value,
        "op": cond.op,
    }
    if rule.clear_value is not None:
        why["clear_value"] = rule.clear_value
    return why


def _why_text(why: Mapping[str, float | str], state: str) -> str:
    if "flag" in why:
        return f"flag {why['flag']} " + ("cleared" if state == "resolved" else "raised")
    if state == "resolved":
        limit = why.get("clear_value", why["threshold"])
        return f"back to normal: {why['signal']} = {why['value']}, past {limit}"
    return f"{why['signal']} = {why['value']} {why['op']} {why['threshold']}"
