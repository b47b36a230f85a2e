"""The same analysis and fleet view over a real S3 server (SeaweedFS) as over a folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from cloudjobs.analysis import run_analysis
from cloudjobs.analysis.schemas import DATASETS
from cloudjobs.fleet import fleet_table
from cloudjobs.lake.reader import LakeReader, open_reader
from cloudjobs.store import S3Store, open_store
from tests.cloudjobs_analysis.curated import Planted, build_lake
from tests.support.seaweed import SeaweedS3, run_seaweed


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedS3]:
    with run_seaweed() as server:
        yield server


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    """A 6-day planted lake: few objects to upload, the same code paths."""
    return build_lake(tmp_path_factory.mktemp("small"), days=6, window_days=4)


@pytest.fixture
def s3_lake(seaweed: SeaweedS3, small: Planted) -> S3Store:
    """The small lake's inputs copied into a fresh bucket, object by object."""
    bucket = seaweed.create_bucket(f"t-{uuid.uuid4().hex[:16]}")
    client = seaweed.client()
    for path in sorted((small.root / "curated").rglob("*.parquet")):
        key = f"lake/{path.relative_to(small.root).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    store = open_store(f"s3://{bucket}/lake", endpoint_url=seaweed.endpoint_url,
                       credentials=seaweed.credentials)
    assert isinstance(store, S3Store)
    return store


def _read(lake: LakeReader, name: str) -> pa.Table:
    table = ds.dataset(f"{lake.root}/curated/{name}", filesystem=lake.filesystem,
                       format="parquet", partitioning="hive").to_table()
    return table.sort_by([(c, "ascending") for c in ("site", "camera", "zone", "flag")
                          if c in table.column_names])


def test_analysis_on_s3_matches_the_folder_and_replaces(s3_lake: S3Store,
                                                        small: Planted) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_analysis(small.root, small.since, small.until, pool, now=small.now)
        run_analysis(s3_lake, small.since, small.until, pool, now=small.now)
        run_analysis(s3_lake, small.since, small.until, pool, now=small.now)
    local, remote = open_reader(small.root), open_reader(s3_lake)
    for name in DATASETS:
        assert _read(remote, name).equals(_read(local, name)), name
    keys = [o.key for o in s3_lake.list("curated/analysis_")]
    assert len(keys) == len(DATASETS) * 4  # one object per site and dataset, no folder markers
    assert all(k.endswith(f"part-{small.since}_{small.until}.parquet") for k in keys)


def test_fleet_on_s3_matches_the_folder(s3_lake: S3Store, small: Planted) -> None:
    assert fleet_table(s3_lake, small.now) == fleet_table(small.root, small.now)
