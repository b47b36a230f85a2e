"""Alerts, evidence JPEGs and the start time for the sink tests."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from fieldagent.alerts.rules import Alert

T0 = datetime(2026, 6, 1, 8, 5, tzinfo=UTC)  # 10:05 in Europe/Amsterdam (summer time)
TZ = "Europe/Amsterdam"


def make_alert(
    state: str = "raised",
    severity: str = "warning",
    *,
    zone: str = "B-2",
    rule: str = "zone-yellowing",
    since: datetime = T0,
    at: datetime | None = None,
    what: str = "a large share of the leaf area has turned yellow",
    **why: Any,
) -> Alert:
    """A signal alert (yellow fraction over 0.15) as the alert engine makes them."""
    values: dict[str, float | str] = {
        "signal": "yellow_fraction", "value": 0.2134, "threshold": 0.15, "op": ">"}
    values.update(why)
    if state == "resolved":
        values.update(value=0.08, clear_value=0.1)
    return Alert(
        site="greenhouse-12", camera="cam1", zone=zone, rule=rule,
        state=state,  # type: ignore[arg-type]
        severity=severity, what=what,
        why=values, at=at or since, since=since,
        message=f"[{severity.upper()}] greenhouse-12: camera cam1, zone {zone}",
    )


def jpeg_bytes(size: int = 48, colour: tuple[int, int, int] = (190, 180, 40)) -> bytes:
    """A real small JPEG (a yellowish crop)."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def email_sink(port: int, **extra: Any) -> dict[str, Any]:
    """Config of an e-mail sink on a plain LAN relay at 127.0.0.1:``port``."""
    return {"kind": "email", "id": "office", "host": "127.0.0.1", "port": port,
            "security": "none", "sender": "agent@farm.example",
            "to": ["grower@farm.example"], **extra}


def webhook_sink(url: str, **extra: Any) -> dict[str, Any]:
    """Config of a webhook sink (our JSON format unless ``format`` is given)."""
    return {"kind": "webhook", "id": "hook", "url": url, "timeout_seconds": 2.0, **extra}
