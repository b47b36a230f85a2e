"""The labels file agronomists edit: one object key per line and what the plant shows.

    key,label,note
    raw/image/site=north/date=2025-05-02/camera=bench-1/101500-3fa4c2d19b0e7a55.jpg,chlorosis,
    raw/evidence/site=north/date=2025-05-03/camera=bench-2/093000-8c1d0e2f3a4b5c6d.jpg,skip,blurred

``label`` is one of the model's classes or ``skip`` (do not use this image at all, not even
to calibrate). ``note`` is free text for people; the header line is optional. Every problem
is reported at once, as ``file:line: what is wrong and what to do``, so a spreadsheet can be
fixed in one pass. Keys must name images that are in the lake: a typo would otherwise
silently drop a label.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from cloudjobs.training.errors import LabelsError

SKIP = "skip"
HEADERS = (["key", "label"], ["key", "label", "note"])


@dataclass(frozen=True)
class LabelRow:
    """One label as written: the line it is on (for messages), the key, the label, a note."""

    line: int
    key: str
    label: str  # a class name or "skip"
    note: str = ""


def read_labels(path: Path, known_keys: Collection[str],
                classes: tuple[str, ...]) -> list[LabelRow]:
    """Read and check ``path``; raise ``LabelsError`` listing every problem by line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # spreadsheets often add a BOM
    except FileNotFoundError:
        raise LabelsError([f"{path}: labels file not found; create it with the header "
                           "key,label,note (it may have no other line yet)"]) from None
    except UnicodeDecodeError as exc:
        raise LabelsError([f"{path}: not UTF-8 text (byte {exc.start}); save it from the "
                           "spreadsheet as 'CSV UTF-8'"]) from None
    return parse_labels(text, source=str(path), known_keys=known_keys, classes=classes)


def parse_labels(text: str, *, source: str, known_keys: Collection[str],
                 classes: tuple[str, ...]) -> list[LabelRow]:
    """Parse CSV ``text``; ``source`` names the file in messages."""
    allowed = (*classes, SKIP)
    rows: list[LabelRow] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    for cells in reader:
        line = reader.line_num
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if not rows and not problems and cells[0].lower() == "key":
            if [c.lower() for c in cells] not in HEADERS:
                problems.append(f"{source}:{line}: header {','.join(cells)!r} should be "
                                "key,label or key,label,note")
            continue
        problem = _check_row(cells, allowed, known_keys, first_line)
        if problem:
            problems.append(f"{source}:{line}: {problem}")
            continue
        first_line[cells[0]] = line
        rows.append(LabelRow(line, cells[0], cells[1].lower(), cells[2] if len(cells) > 2 else ""))
    if problems:
        raise LabelsError(problems)
    return rows


def _check_row(cells: list[str], allowed: tuple[str, ...], known_keys: Collection[str],
               first_line: dict[str, int]) -> str | None:
    """What is wrong with one row, or None."""
    if len(cells) not in (2, 3):
        return (f"{len(cells)} columns; a line is key,label or key,label,note "
                "(quote a note that contains commas)")
    key, label = cells[0], cells[1].lower()
    if not key:
        return "the key is empty; copy the object key of the image"
    if label not in allowed:
        return (f"label {cells[1]!r} for {key} is not one of {', '.join(allowed)}; "
                "fix the spelling or use skip")
    if key in first_line:
        return (f"{key} is labelled again (first on line {first_line[key]}); "
                "keep one line per key")
    if key not in known_keys:
        return (f"{key} is not an image in the lake; copy the key exactly "
                "(raw/image/... or raw/evidence/...) or remove the line")
    return None
