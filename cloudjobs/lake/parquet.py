"""Parquet bytes in and out: every lake file goes through the object store as one object."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
"""zstd: smaller than snappy at similar speed; Athena (engine 3), Trino, Spark and DuckDB
all read it."""


def table_bytes(table: pa.Table) -> bytes:
    """The table as one Parquet file."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=COMPRESSION)
    return bytes(sink.getvalue().to_pybytes())


def read_table(data: bytes) -> pa.Table:
    """A Parquet file's table."""
    return pq.read_table(pa.BufferReader(data))
