"""'No images from camera 4 for 20 minutes': a camera-level alert raised by the absence of
images, which the per-image alert rules cannot see. Raised once, resolved by the next image."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from fieldagent.alerts import CAMERA_LEVEL, Alert

RULE = "camera-silent"


class SilenceWatch:
    """Tracks each camera's last image; ``check(now)`` returns alerts to raise or resolve."""

    def __init__(self, site: str, limits_minutes: Mapping[str, float], started: datetime) -> None:
        self.site = site
        self._limits = {c: timedelta(minutes=m) for c, m in limits_minutes.items()}
        self._last: dict[str, datetime] = dict.fromkeys(limits_minutes, started)
        self._silent: dict[str, datetime] = {}  # camera -> since

    def last_image(self, camera: str) -> datetime | None:
        return self._last.get(camera)

    def seen(self, camera: str, at: datetime) -> list[Alert]:
        """An image arrived: a silent camera's alert resolves."""
        self._last[camera] = max(self._last.get(camera, at), at)
        since = self._silent.pop(camera, None)
        if since is None:
            return []
        gap = (at - since).total_seconds() / 60
        return [self._alert(camera, "resolved", at, since,
                            f"camera {camera} is sending images again (after {gap:.0f} min)")]

    def check(self, now: datetime) -> list[Alert]:
        out = []
        for camera, limit in self._limits.items():
            last = self._last[camera]
            if camera not in self._silent and now - last >= limit:
                self._silent[camera] = last
                minutes = (now - last).total_seconds() / 60
                out.append(self._alert(
                    camera, "raised", now, last,
                    f"no images from camera {camera} for {minutes:.0f} minutes: check its power, "
                    "network cable and upload settings (inbox folder or snapshot URL)"))
        return out

    def state(self) -> dict[str, dict[str, str]]:
        return {"last": {c: t.isoformat() for c, t in self._last.items()},
                "silent": {c: t.isoformat() for c, t in self._silent.items()}}

    def restore(self, state: Mapping[str, Mapping[str, str]]) -> None:
        for c, t in (state.get("last") or {}).items():
            if c in self._limits:
                self._last[c] = datetime.fromisoformat(t)
        for c, t in (state.get("silent") or {}).items():
            if c in self._limits:
                self._silent[c] = datetime.fromisoformat(t)

    def _alert(self, camera: str, state: Literal["raised", "resolved"], at: datetime,
               since: datetime, message: str) -> Alert:
        minutes = round((at - since).total_seconds() / 60, 1)
        return Alert(self.site, camera, CAMERA_LEVEL, RULE, state, "warning", "camera silent",
                     {"minutes_without_images": minutes}, at, since, message)
