"""The fleet view as an aligned text table (for a person), JSON or CSV (for scripts)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cloudjobs.analysis.freshness import human_duration

Row = dict[str, Any]


def _seen(row: Row) -> str:
    last = row["last_seen"]
    return "never" if last is None else f"{last:%Y-%m-%d %H:%M}"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else human_duration(seconds)


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def _rollout(row: Row) -> str:
    event = row["rollout_event"]
    return "-" if event is None else f"{event} {row['rollout_version'] or ''}".strip()


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


# Heading and how to show each column of the text table, in reading order.
COLUMNS: tuple[tuple[str, Callable[[Row], str]], ...] = (
    ("SITE", lambda r: _text(r["site"])),
    ("DEVICE", lambda r: _text(r["device"])),
    ("STATUS", lambda r: r["status"].upper() if r["status"] != "ok" else "ok"),
    ("LAST SEEN (UTC)", _seen),
    ("AGE", lambda r: _age(r["age_s"])),
    ("BACKLOG", lambda r: _text(r["backlog_items"])),
    ("OLDEST", lambda r: _age(r["backlog_age_s"])),
    ("DISK FREE", lambda r: _bytes(r["disk_free_bytes"])),
    ("MODEL", lambda r: _text(r["model_version"])),
    ("ROLLOUT", _rollout),
    ("ALERTS", lambda r: str(r["alerts_raised"])),
    ("REASON", lambda r: _text(r["reason"])),
)


def as_table(rows: Sequence[Row]) -> str:
    """Columns padded to their widest cell; the reason column last, unpadded."""
    cells = [[show(r) for _, show in COLUMNS] for r in rows]
    heads = [h for h, _ in COLUMNS]
    widths = [max(len(c) for c in col) for col in zip(heads, *cells, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in [heads, *cells]]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def as_json(rows: Sequence[Row]) -> str:
    """A JSON array of objects, times as ISO 8601 UTC."""
    return json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows], indent=2) + "\n"


def as_csv(rows: Sequence[Row]) -> str:
    """One header line and one line per device; empty cells for unknown values."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _plain(v) for k, v in r.items()} for r in rows)
    return out.getvalue()


FORMATS: dict[str, Callable[[Sequence[Row]], str]] = {
    "table": as_table, "json": as_json, "csv": as_csv,
}
