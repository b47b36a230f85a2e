"""``fieldagent check-config --explain``: the alert rules in force, camera by camera."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from fieldagent.alerts.config import AlertRule
from fieldagent.alerts.names import camera_flag_names

if TYPE_CHECKING:
    from fieldagent.config.site import SiteConfig


def explain_rules(site: SiteConfig) -> str:
    """One block per camera: each rule that applies, its origin, condition and zones."""
    from fieldagent.config.site import zone_ids

    alerts = site.alerts
    if not alerts.enabled:
        return "ALERTS ARE OFF (alerts.enabled: false): no camera raises any alert"
    lines = []
    for cam in site.cameras:
        zones = zone_ids(cam)
        rules = [r for r in alerts.active_rules
                 if any(fnmatchcase(cam.id, p) for p in r.cameras)]
        lines.append(f"camera {cam.id}: {len(rules)} rules, {len(zones)} zones")
        for r in rules:
            lines.append(f"  {r.id:<18} {r.severity:<8} {_condition(r)}")
            lines.append(f"  {'':<18} {alerts.origin(r)}; {_where(r, zones)}")
    return "\n".join(lines)


def _condition(rule: AlertRule) -> str:
    text = rule.when.text
    hold = f"for {rule.for_images} image{'s' if rule.for_images > 1 else ''}"
    if rule.for_minutes:
        hold += f" and {rule.for_minutes:g} min"
    past = f" past {rule.clear_value:g}" if rule.clear_value is not None else ""
    n = rule.clear_images
    return f"{text} {hold}; resolves{past} after {n} clear image{'s' if n > 1 else ''}"


def _where(rule: AlertRule, zones: list[str]) -> str:
    if rule.when.flag is not None and rule.when.flag in camera_flag_names():
        return "the whole camera"
    hit = [z for z in zones if any(fnmatchcase(z, p) for p in rule.zones)]
    shown = ", ".join(hit[:6]) + (f" and {len(hit) - 6} more" if len(hit) > 6 else "")
    return f"zones {shown}" if hit else "no zone"
