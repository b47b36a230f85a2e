"""Query results as text: an aligned table for people, CSV and JSON for other programs."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json")


def render(table: pa.Table, fmt: str) -> str:
    """The table in ``fmt`` (one of ``FORMATS``)."""
    rows = table.to_pylist()
    if fmt == "json":
        return json.dumps(rows, indent=1, default=_json_value, allow_nan=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(table.column_names)
        writer.writerows([[_text(v, csv=True) for v in r.values()] for r in rows])
        return out.getvalue().rstrip("\n")
    return _aligned(table.column_names, rows)


def _aligned(names: list[str], rows: list[dict[str, Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[_text(v) for v in r.values()] for r in rows]
    numeric = [all(_is_number(r[n]) for r in rows if r[n] is not None) for n in names]
    widths = [max([len(n), *(len(c[i]) for c in cells)]) for i, n in enumerate(names)]

    def line(values: list[str]) -> str:
        padded = [v.rjust(w) if num else v.ljust(w)
                  for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(padded).rstrip()

    out = [line(names), line(["-" * w for w in widths]), *(line(c) for c in cells)]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any, *, csv: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if csv else (f"{value:.6g}" if math.isfinite(value) else str(value))
    if isinstance(value, datetime):
        return value.isoformat() if csv else value.isoformat(sep=" ")
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json_value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
