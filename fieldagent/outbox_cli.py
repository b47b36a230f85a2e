"""``fieldagent outbox stats --config FILE``: what waits to be sent, and how long it will take.

Prints one JSON object: items and bytes by class and state, the oldest item's age, drops
by reason, the last successful upload, the signal records not yet batched, the estimated
drain time (backlog bytes at the measured rate, or the policy's rate when nothing has been
measured yet), and the uploader's last status (link state, degrade level) when it has
written one.

It only reads: the outbox database is opened read-only (SQLite ``mode=ro``), so it works
while the agent runs and holds the outbox's lock, and never changes what it reports on.

Where things are is ``fieldagent.datadir.DataDir``: the outbox folder (the
``SqliteOutbox``), the signal journal in it (the ``RecordJournal``) and the uploader's
status file, all under the site config's ``data_dir``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fieldagent.config.site import load_site_config
from fieldagent.datadir import DataDir, OutboxLayout
from fieldagent.errors import ConfigError
from fieldagent.offload.degrade import DegradePlanner
from fieldagent.outbox.model import KINDS, OutboxStats, to_us
from fieldagent.outbox.spool import Spool
from fieldagent.outbox.sqlite_read import read_stats
from fieldagent.outbox.store import database_bytes
from fieldagent.policy import Policy, load_policy
from fieldagent.uplink.scheduler import duration_text, rate_text, read_status


def outbox_stats_main(config_path: str, *, now: datetime | None = None) -> int:
    """Print the outbox report; 0 done, 1 no outbox yet or unreadable, 2 bad config."""
    path = Path(config_path)
    try:
        site = load_site_config(path)
        policy = load_policy(site.policy, relative_to=path.parent)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    data = DataDir.of_site(site, path.parent)
    if not data.outbox_files.db.is_file():
        print(f"no outbox in {data.outbox} yet: the agent has not queued anything (data_dir "
              f"{site.data_dir!r} in {path})", file=sys.stderr)
        return 1
    try:
        report = outbox_report(data, policy, now or datetime.now(UTC))
    except sqlite3.Error as exc:
        print(f"cannot read the outbox database {data.outbox_files.db}: {exc}; if this "
              "persists the agent will quarantine it at its next start", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str))
    return 0


def outbox_report(data: DataDir, policy: Policy, now: datetime) -> dict[str, Any]:
    """The report of the outbox in a site's data folder, read-only."""
    stats = _read_stats(data.outbox_files, now)
    status = read_status(data.uplink_status)
    held = {k: v["ready"]["bytes"] + v["leased"]["bytes"]
            for k, v in stats.by_kind_state.items()}
    report: dict[str, Any] = {
        "outbox": str(data.outbox), "at": now.isoformat(), "policy": policy.name,
        "by_kind": stats.by_kind_state,
        "held": {"items": sum(v["ready"]["items"] + v["leased"]["items"]
                              for v in stats.by_kind_state.values()),
                 "bytes": stats.total_bytes, "cap_bytes": policy.link.total_max_bytes},
        "oldest_item_age_s": stats.oldest_ready_age_s,
        "drops": stats.drops,
        "last_success_at": stats.last_success_at.isoformat() if stats.last_success_at else None,
        "disk_bytes": stats.disk_bytes,
        "signals_pending_records": _pending_records(data.journal),
        "drain": drain_estimate(held, policy, status),
        "degrade": (status or {}).get("degrade"),
        "uplink": _uplink(status, now),
    }
    return report


def drain_estimate(
    held: dict[str, int], policy: Policy, status: dict[str, Any] | None
) -> dict[str, Any]:
    """Backlog bytes over the measured rate (or the policy's cap), windows and budget
    included, as the degrade planner computes it."""
    backlog = {k: b for k, b in held.items() if k in KINDS and policy.klass(k).upload}
    measured = (status or {}).get("rate_bytes_per_s")
    rate, source = (measured, "measured") if measured else (policy.link.rate, "policy")
    eta = DegradePlanner(policy).drain_eta(backlog, rate)
    return {
        "backlog_bytes": sum(backlog.values()),
        "rate_bytes_per_s": rate,
        "rate_source": source if rate else None,
        "eta_s": eta,
        "eta": duration_text(eta) if eta is not None else
        "unknown: no rate measured yet and the policy sets no link.rate",
        "rate": rate_text(rate),
    }


def _read_stats(outbox: OutboxLayout, now: datetime) -> OutboxStats:
    conn = sqlite3.connect(f"file:{outbox.db}?mode=ro", uri=True, timeout=10)
    try:
        disk = database_bytes(outbox.db) + Spool(outbox.spool).disk_bytes()
        return read_stats(conn, to_us(now), disk)
    finally:
        conn.close()


def _pending_records(journal: Path) -> int | None:
    """Signal records accepted but not yet in a batch (None: no journal there)."""
    if not journal.is_file():
        return None
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _uplink(status: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """The uploader's last snapshot, with its age so a stale one is not taken for news."""
    if status is None:
        return None
    keep = ("target", "link", "paused_until", "holds", "last_problem", "updated_at")
    out = {k: status.get(k) for k in keep}
    try:
        updated = datetime.fromisoformat(str(status["updated_at"]))
        out["status_age_s"] = (now - updated).total_seconds()
    except (KeyError, ValueError, TypeError):
        out["status_age_s"] = None
    return out
