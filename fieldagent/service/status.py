"""``fieldagent status --config FILE``: one screen a site technician understands.

Cameras and their last image, quality state, active alerts, the outbox backlog and its drain
estimate, the link, the alert sinks and the model. Everything is read from what the running
agent keeps on disk (state file, outbox database opened read-only, uplink status file, sink
database read-only, model store), so it works while the agent runs and changes nothing.
``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldagent.config.site import load_site_config
from fieldagent.datadir import DataDir
from fieldagent.errors import ConfigError
from fieldagent.outbox_cli import outbox_report
from fieldagent.policy import load_policy
from fieldagent.uplink.scheduler import duration_text


def collect(config_path: Path, now: datetime) -> dict[str, Any]:
    """Everything the status screen shows, as a JSON-ready dict."""
    site = load_site_config(config_path)
    policy = load_policy(site.policy, relative_to=config_path.parent)
    data = DataDir.of_site(site, config_path.parent)
    state = _json(data.state) or {}
    cams = state.get("camera_status") or {}
    cameras = []
    for cam in site.cameras:
        c = cams.get(cam.id) or {}
        last = c.get("last_image")
        age = (now - datetime.fromisoformat(last)).total_seconds() if last else None
        cameras.append({
            "id": cam.id, "source": cam.source.kind, "last_image": last, "age_s": age,
            "last_status": c.get("status"), "quality_flags": c.get("flags", []),
            "silent": age is None or age > cam.silent_after_minutes * 60,
        })
    outbox = None
    if data.outbox_files.db.is_file():
        try:
            outbox = outbox_report(data, policy, now)
        except sqlite3.Error as exc:
            outbox = {"error": f"cannot read the outbox: {exc}"}
    return {
        "site": site.site.id, "device": site.site.device, "at": now.isoformat(),
        "state_saved_at": state.get("saved_at"), "policy": policy.name,
        "cameras": cameras,
        "alerts": sorted((state.get("active_alerts") or {}).values(),
                         key=lambda a: str(a.get("since"))),
        "outbox": outbox,
        "sinks": _sinks(data.alerts_db),
        "model": _model(data.model_files.state, state),
        "drained": state.get("drained"),
        "alerts_enabled": site.alerts.enabled,
    }


def render(s: dict[str, Any]) -> str:
    """The human screen."""
    lines = [f"site {s['site']} / {s['device']}   policy {s['policy']}   {s['at'][:19]}Z"]
    saved = s.get("state_saved_at")
    lines.append(f"agent state saved {saved[:19] if saved else 'never (agent not run yet)'}")
    d = s.get("drained")
    if d:
        verdict = ("SAFE TO CUT THE POWER" if d.get("safe_to_power_off")
                   else "not fully drained: something is left, see below")
        lines.append(f"drained {str(d.get('at'))[:19]}: {verdict}")
    lines.append("")
    lines.append("CAMERAS")
    for c in s["cameras"]:
        age = "no image yet" if c["age_s"] is None else f"{duration_text(c['age_s'])} ago"
        flags = ", ".join(c["quality_flags"]) or "ok"
        mark = "SILENT " if c["silent"] else ""
        lines.append(f"  {c['id']:<12} {c['source']:<6} last image {age:<16} quality {flags}"
                     f"  {mark}".rstrip())
    lines.append("")
    alerts = s["alerts"]
    if not s.get("alerts_enabled", True):
        lines.append("ALERTS ARE OFF (alerts.enabled: false in the site config): no alert "
                     "is raised for any camera")
    lines.append(f"ACTIVE ALERTS ({len(alerts)})")
    for a in alerts:
        where = a.get("camera") if a.get("zone") in (None, "-") else f"{a['camera']}/{a['zone']}"
        where = "agent" if where == "-" else where
        lines.append(f"  {a.get('severity', ''):<8} {where:<20} since "
                     f"{str(a.get('since'))[:16].replace('T', ' ')}  {a.get('what')}")
    if not alerts:
        lines.append("  none")
    lines.append("")
    o = s.get("outbox")
    lines.append("OUTBOX AND LINK")
    if not o:
        lines.append("  no outbox yet")
    elif "error" in o:
        lines.append(f"  {o['error']}")
    else:
        held = o["held"]
        age = o.get("oldest_item_age_s")
        lines.append(f"  waiting {held['items']} items, {held['bytes'] / 1e6:.1f} MB of "
                     f"{held['cap_bytes'] / 1e9:.1f} GB; oldest "
                     f"{duration_text(age) if age is not None else '-'}")
        lines.append(f"  drain estimate {o['drain']['eta']} at {o['drain']['rate']}")
        link = (o.get("uplink") or {}).get("link") or {}
        state = {"closed": "up", "open": "DOWN", "half_open": "retrying"}.get(
            str(link.get("state")), "unknown (no upload tried yet)")
        last = o.get("last_success_at")
        lines.append(f"  link {state}; last upload {last[:19] if last else 'never'}; "
                     f"degrade level {(o.get('degrade') or {}).get('level', 0)}")
        if link.get("last_error"):
            lines.append(f"  last link error: {link['last_error']}")
        drops = {k: v for k, v in (o.get("drops") or {}).items() if v}
        if drops:
            lines.append("  dropped: " + ", ".join(f"{k} {v}" for k, v in drops.items()))
    lines.append("")
    lines.append("ALERT SINKS")
    for sid, st in (s.get("sinks") or {}).items():
        lines.append(f"  {sid:<12} pending {st['pending']}, delivered {st['delivered']}, "
                     f"failed {st['failed']}")
    if not s.get("sinks"):
        lines.append("  none configured or nothing sent yet")
    lines.append("")
    m = s["model"]
    lines.append(f"MODEL  running {m.get('running') or 'packaged'}"
                 + (f", on trial {m['trial']}" if m.get("trial") else "")
                 + (f", previous {m['previous']}" if m.get("previous") else ""))
    return "\n".join(lines)


def status_main(config: str, as_json: bool = False, now: datetime | None = None) -> int:
    path = Path(config)
    try:
        s = collect(path, now or datetime.now(UTC))
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    print(json.dumps(s, indent=2, default=str) if as_json else render(s))
    return 0


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _sinks(db: Path) -> dict[str, dict[str, int]]:
    """Deliveries per sink and state, read-only (the agent holds the database)."""
    if not db.is_file():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT sink, status, COUNT(*) FROM deliveries GROUP BY sink, status")
        out: dict[str, dict[str, int]] = {}
        for sink, status, n in rows:
            d = out.setdefault(sink, {"pending": 0, "delivered": 0, "failed": 0})
            key = status if status in d else "pending"
            d[key] += int(n)
        return out
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def _model(store_state: Path, agent_state: dict[str, Any]) -> dict[str, Any]:
    st = _json(store_state) or {}
    trial = st.get("trial") or {}
    return {"running": agent_state.get("model_version"), "current": st.get("current"),
            "previous": st.get("previous"), "trial": trial.get("version") if trial else None}
