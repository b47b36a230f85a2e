"""``fieldagent model status --config FILE [--json]``: which model runs, which is on trial.

Read-only: it reads the model store's state file (where: ``fieldagent.datadir``) and never
opens the store the way the agent does (which counts a boot of a trial), so it is safe while
the agent runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fieldagent.config.site import default_site_config, load_site_config
from fieldagent.datadir import DataDir
from fieldagent.errors import ConfigError
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import packaged_model_dir
from fieldagent.modelupdate.errors import ModelStoreError
from fieldagent.modelupdate.health import p95
from fieldagent.modelupdate.store import StoreState, read_state

HISTORY_SHOWN = 5


def model_status_main(argv: Sequence[str] | None = None) -> int:
    """Print the model status; 0 done, 1 unreadable state, 2 bad config."""
    parser = argparse.ArgumentParser(prog="fieldagent model status",
                                     description="Which model runs, which is on trial.")
    parser.add_argument("--config", help="site config (default: the embedded defaults, "
                        "data_dir relative to the current folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        if args.config:
            site, config_path = load_site_config(args.config), Path(args.config)
        else:
            site, config_path = default_site_config(), Path.cwd() / "site.yaml"
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    root = DataDir.of_site(site, config_path.parent).models
    try:
        status = model_status(root)
    except ModelStoreError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2) if args.json else status_text(status))
    return 0


def model_status(root: Path) -> dict[str, Any]:
    """The store's state as a JSON-ready dict (``current`` None = the packaged model)."""
    state: StoreState = read_state(root)
    trial = None
    if state.trial is not None:
        trial = state.trial.to_dict()
        trial["p95_latency_ms"] = p95(state.trial.latencies_ms)
        del trial["latencies_ms"]
    return {
        "store": str(root),
        "running": state.trial.version if state.trial else state.current or "packaged",
        "current": state.current,
        "packaged_version": read_manifest(packaged_model_dir()).version,
        "previous": state.previous,
        "trial": trial,
        "rejected": dict(state.rejected),
        "history": [dict(h) for h in state.history],
    }


def status_text(status: dict[str, Any]) -> str:
    """The status for people, one line per fact."""
    packaged = f"packaged model {status['packaged_version']}"
    lines = [
        f"model store: {status['store']}",
        f"current:     {status['current'] or packaged}",
        f"previous:    {status['previous'] or 'none'}",
    ]
    trial = status["trial"]
    if trial:
        p95_ms = trial["p95_latency_ms"]
        lines.append(
            f"trial:       {trial['version']} since {trial['started_at']}: {trial['boots']} "
            f"restart(s), {trial['samples']} runs, {trial['errors']} errors, p95 "
            f"{'-' if p95_ms is None else f'{p95_ms:.1f} ms'} (window "
            f"{trial['limits']['window_seconds']:.0f} s, commit needs "
            f"{trial['limits']['min_samples']} runs)")
    else:
        lines.append("trial:       none")
    running = f"{trial['version']} (on trial)" if trial else (status["current"] or packaged)
    lines.append(f"running:     {running}")
    for version, reason in sorted(status["rejected"].items()):
        lines.append(f"rejected:    {version} ({reason})")
    for event in status["history"][-HISTORY_SHOWN:]:
        reason = f" ({event['reason']})" if event.get("reason") else ""
        lines.append(f"history:     {event['at']} {event['event']} {event['version']}{reason}")
    return "\n".join(lines)
