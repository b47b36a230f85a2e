"""The batch format's edges: what the writer refuses, and lines that only look broken."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fieldcontract.batch import BatchHeader, encode_line, read_batch, write_batch

T = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)


def test_a_record_with_unicode_line_separators_reads_back_whole() -> None:
    """Records are written with ``ensure_ascii=False``, so U+2028, U+2029 and U+0085 in a text
    (a file name, a message) stay raw: they are not line ends of the batch (the reader used
    ``splitlines()`` and cut such a record in two, rejecting the whole batch)."""
    records = [{"ts": T.isoformat(), "message": "a\u2028b\u2029c\x85d\x1ce"}, {"i": 2}]
    batch = write_batch("gh-7", [encode_line(r) for r in records], [T, T], "ndjson+gzip")
    header, docs = read_batch(batch.data)
    assert docs == records and header["count"] == 2


def test_the_header_reads_back_and_goes_to_s3_as_text() -> None:
    batch = write_batch("gh-7", [encode_line({"i": 1})], [T], "ndjson+zstd")
    header, _ = read_batch(batch.data)
    assert BatchHeader.from_json(header) == batch.header
    assert batch.metadata == {"schema-version": "1", "site": "gh-7", "kind": "signals",
                              "count": "1", "first-ts": T.isoformat(),
                              "last-ts": T.isoformat(), "format": "ndjson+zstd"}
    assert batch.key.endswith(".ndjson.zst") and batch.content_type == "application/zstd"


@pytest.mark.parametrize(("lines", "times", "fmt", "needle"), [
    ([], [], "ndjson+gzip", "at least one line"),
    (["{}"], [T, T], "ndjson+gzip", "one time per record line"),
    (["{}"], [T], "ndjson+bz2", "not one of"),
])
def test_the_writer_refuses_what_is_not_a_batch(lines: list[str], times: list[datetime],
                                                 fmt: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        write_batch("gh-7", lines, times, fmt)


@pytest.mark.parametrize("body", [b"", b"plain text", b"\x1f\x8b\x08\x00garbage"])
def test_the_reader_refuses_what_is_not_a_batch(body: bytes) -> None:
    with pytest.raises((ValueError, OSError, EOFError)):
        read_batch(body)
