"""Writing the analysis' results back to the curated lake, one file per site and window.

Reading the lake is ``cloudjobs.lake.reader`` (the one reader every cloud job shares); this
module only writes ``curated/<dataset>/site=<site>/<name>`` and shapes timestamps for SQL.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cloudjobs.lake.reader import LakeReader


def replace_site_file(
    lake: LakeReader, dataset: str, site: str, name: str, table: pa.Table
) -> str:
    """Write ``table`` as ``curated/<dataset>/site=<site>/<name>``, replacing any earlier copy.

    The same name for the same analysis window makes a re-run replace, not append. Locally
    the file is written under a hidden name and renamed, so a reader never sees half a file;
    on S3 an object appears whole when its upload completes. An empty table removes the file.
    """
    folder = lake.site_dir(dataset, site)
    path = f"{folder}/{name}"
    if table.num_rows == 0:
        if lake.filesystem.get_file_info(path).type == pafs.FileType.File:
            lake.filesystem.delete_file(path)
        return path
    if isinstance(lake.filesystem, pafs.LocalFileSystem):  # object stores have no folders
        lake.filesystem.create_dir(folder, recursive=True)
        temp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        pq.write_table(table, temp, filesystem=lake.filesystem)
        lake.filesystem.move(temp, path)
    else:
        pq.write_table(table, path, filesystem=lake.filesystem)
    return path


def naive_utc(table: pa.Table, column: str) -> pa.Table:
    """The timestamp column as naive UTC wall time, so SQL hour() never applies a time zone."""
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pc.cast(table.column(column), pa.timestamp("us")))
