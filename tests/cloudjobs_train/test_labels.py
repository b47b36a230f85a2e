"""The labels file: every problem reported at once, each with its line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudjobs.training.errors import LabelsError
from cloudjobs.training.labels import parse_labels, read_labels
from fieldagent.synth import MODEL_CLASSES

A = "raw/image/site=north/date=2025-06-01/camera=bench-1/080000-0123456789abcdef.jpg"
B = "raw/evidence/site=south/date=2025-06-01/camera=bench-2/090000-fedcba9876543210.jpg"
KNOWN = {A, B}


def parse(text: str) -> list[tuple[int, str, str, str]]:
    rows = parse_labels(text, source="labels.csv", known_keys=KNOWN, classes=MODEL_CLASSES)
    return [(r.line, r.key, r.label, r.note) for r in rows]


def problems(text: str) -> list[str]:
    with pytest.raises(LabelsError) as info:
        parse(text)
    return info.value.problems


def test_a_valid_file_keeps_lines_labels_and_notes() -> None:
    text = f"key,label,note\n{A},Chlorosis ,yellow edges\n\n{B},skip,\"blurred, fogged\"\n"
    assert parse(text) == [(2, A, "chlorosis", "yellow edges"), (4, B, "skip", "blurred, fogged")]


def test_the_header_is_optional_and_two_columns_are_enough() -> None:
    assert parse(f"{A},healthy\n") == [(1, A, "healthy", "")]
    assert parse(f"key,label\n{A},wilting\n") == [(2, A, "wilting", "")]


def test_unknown_label_names_the_line_and_the_allowed_labels() -> None:
    [message] = problems(f"key,label\n{A},healthy\n{B},yelow\n")
    assert message.startswith("labels.csv:3: label 'yelow'")
    for allowed in (*MODEL_CLASSES, "skip"):
        assert allowed in message


def test_unknown_key_names_the_line() -> None:
    typo = A.replace("bench-1", "bench-9")
    [message] = problems(f"{A},healthy\n{typo},necrosis\n")
    assert message.startswith(f"labels.csv:2: {typo} is not an image in the lake")


def test_duplicate_key_names_both_lines() -> None:
    [message] = problems(f"key,label\n{A},healthy\n{B},healthy\n{A},necrosis\n")
    assert message.startswith("labels.csv:4:") and "first on line 2" in message


def test_every_problem_is_reported_in_one_pass() -> None:
    text = f"key,label\n{A},healthy\n{A},healthy\nraw/x.jpg,healthy\n{B},bad\n{B}\n,healthy\n"
    lines = [p.split(":")[1] for p in problems(text)]
    assert lines == ["3", "4", "5", "6", "7"]


def test_a_bad_header_and_too_many_columns_are_reported() -> None:
    found = problems(f"key,class\n{A},healthy,note,extra\n")
    assert found[0].startswith("labels.csv:1: header")
    assert found[1].startswith("labels.csv:2: 4 columns")


def test_a_quoted_note_spanning_lines_keeps_line_numbers_right() -> None:
    text = f'key,label,note\n{A},healthy,"two\nlines"\n{B},nope,\n'
    [message] = problems(text)
    assert message.startswith("labels.csv:4:")


def test_read_labels_accepts_a_spreadsheet_bom_and_explains_other_encodings(
        tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbfkey,label\n" + f"{A},necrosis\n".encode())
    assert [r.label for r in read_labels(path, KNOWN, MODEL_CLASSES)] == ["necrosis"]
    path.write_bytes(b"key,label\n" + A.encode() + b",n\xe9crose\n")
    with pytest.raises(LabelsError, match="not UTF-8"):
        read_labels(path, KNOWN, MODEL_CLASSES)
    with pytest.raises(LabelsError, match="labels file not found"):
        read_labels(tmp_path / "missing.csv", KNOWN, MODEL_CLASSES)


def test_many_problems_are_capped_in_the_message_but_all_kept() -> None:
    text = "".join(f"raw/image/x{i}.jpg,healthy\n" for i in range(80))
    with pytest.raises(LabelsError) as info:
        parse(text)
    assert len(info.value.problems) == 80
    assert str(info.value).endswith("... and 30 more")
