"""One behaviour suite for both object stores: the local folder and S3 (SeaweedFS)."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cloudjobs.store import (
    LocalStore,
    ObjectNotFound,
    ObjectStore,
    S3Store,
    StoreError,
    open_store,
)
from fieldagent.uplink.local import LocalTransport
from tests.support.seaweed import SeaweedS3


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    name = "local_store" if request.param == "local" else "s3_store"
    result: ObjectStore = request.getfixturevalue(name)
    return result


def test_put_get_list_in_key_order_with_sizes(store: ObjectStore) -> None:
    store.put("a/b/2.bin", b"xx")
    store.put("a/b/1.bin", b"x")
    store.put("a/c.bin", b"xyz")
    store.put("ab/d.bin", b"")
    listed = list(store.list("a/"))
    assert [o.key for o in listed] == ["a/b/1.bin", "a/b/2.bin", "a/c.bin"]
    assert [o.size for o in listed] == [1, 2, 3]
    assert all(o.version for o in listed)
    assert [o.key for o in store.list("a")] == ["a/b/1.bin", "a/b/2.bin", "a/c.bin", "ab/d.bin"]
    assert store.get("a/c.bin") == b"xyz"
    assert list(store.list("nothing/")) == []


def test_list_dirs_gives_the_next_level_only(store: ObjectStore) -> None:
    for key in ("raw/signals/site=a/x", "raw/signals/site=b/date=1/y", "raw/alert/site=a/z",
                "raw/top.txt"):
        store.put(key, b"1")
    assert store.list_dirs("raw/") == ["raw/alert/", "raw/signals/"]
    assert store.list_dirs("raw/signals/") == ["raw/signals/site=a/", "raw/signals/site=b/"]
    assert store.list_dirs("raw/nope/") == []


def test_create_only_writes_once_and_never_replaces(store: ObjectStore) -> None:
    assert store.put("log/1.json", b"first", create_only=True) is True
    assert store.put("log/1.json", b"second", create_only=True) is False
    assert store.get("log/1.json") == b"first"
    assert store.put("log/1.json", b"third") is True  # a plain put replaces
    assert store.get("log/1.json") == b"third"


def test_create_only_race_has_exactly_one_winner(store: ObjectStore) -> None:
    wins: list[bool] = []
    barrier = threading.Barrier(4)
    assert not store.exists("race/1.json")  # the S3 client is built before the race

    def writer(n: int) -> None:
        barrier.wait()
        wins.append(store.put("race/1.json", f"w{n}".encode(), create_only=True))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]
    assert store.get("race/1.json") in {b"w0", b"w1", b"w2", b"w3"}


def test_missing_objects_exists_delete_copy_move(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound, match="no object"):
        store.get("missing/key")
    assert not store.exists("missing/key")
    store.delete("missing/key")  # not an error: deletes are repeated after crashes
    store.put("src/a.bin", b"payload")
    store.copy("src/a.bin", "dst/a.bin")
    assert store.get("dst/a.bin") == b"payload" and store.exists("src/a.bin")
    store.move("dst/a.bin", "moved/a.bin")
    assert not store.exists("dst/a.bin")
    assert store.get("moved/a.bin") == b"payload"
    store.delete("moved/a.bin")
    assert not store.exists("moved/a.bin")


def test_keys_that_could_escape_the_root_are_refused(store: ObjectStore) -> None:
    for bad in ("../x", "a/../../x", "/abs", "a//b", ""):
        with pytest.raises(ValueError, match="not a relative path"):
            store.put(bad, b"x")


def test_arrow_filesystem_reads_the_same_objects(store: ObjectStore) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"x": [1, 2, 3]}), sink)
    store.put("curated/t/part.parquet", sink.getvalue().to_pybytes())
    fs, base = store.arrow_fs()
    assert pq.read_table(f"{base}/curated/t/part.parquet", filesystem=fs)["x"].to_pylist() == [
        1, 2, 3]


def test_local_store_skips_hidden_folders_the_uplink_writes(local_store: LocalStore) -> None:
    """The demo's cloud folder is written by the uplink's LocalTransport, which keeps
    ``.meta`` sidecars and ``.tmp`` files: they are not objects."""
    import hashlib

    transport = LocalTransport(local_store.root)
    body = b'{"a": 1}'
    transport.put("raw/heartbeat/site=a/date=2024-05-06/000000-0123456789abcdef.json", body,
                  sha256_hex=hashlib.sha256(body).hexdigest())
    (local_store.root / ".tmp").mkdir(exist_ok=True)
    (local_store.root / ".tmp" / "junk").write_bytes(b"x")
    assert [o.key for o in local_store.list("")] == [
        "raw/heartbeat/site=a/date=2024-05-06/000000-0123456789abcdef.json"]
    assert local_store.list_dirs("") == ["raw/"]


def test_local_delete_prunes_empty_folders(local_store: LocalStore) -> None:
    local_store.put("staging/site=a/t1/curated/x/part.parquet", b"1")
    local_store.delete("staging/site=a/t1/curated/x/part.parquet")
    assert not (local_store.root / "staging").exists()
    assert local_store.root.is_dir()


def test_missing_local_root_is_a_setup_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "not-mounted")
    with pytest.raises(StoreError, match="does not exist: check --store"):
        list(store.list("raw/"))
    with pytest.raises(StoreError, match="does not exist"):
        store.put("raw/x", b"1")


def test_open_store_url_forms(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    local = open_store(f"file://{tmp_path}")
    assert isinstance(local, LocalStore) and local.root == tmp_path
    s3 = open_store("s3://my-bucket/some/prefix/", endpoint_url="http://127.0.0.1:1")
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix, s3.url) == ("my-bucket", "some/prefix/",
                                              "s3://my-bucket/some/prefix/")
    for bad in ("s3://b/x", "gs://bucket/x", "file://host/x"):
        with pytest.raises(StoreError, match=r"is not like|use s3://"):
            open_store(bad)


def test_s3_store_pickles_without_its_client(s3_store: S3Store) -> None:
    s3_store.put("p/1", b"before")
    clone = pickle.loads(pickle.dumps(s3_store))
    assert clone.get("p/1") == b"before"
    assert clone.url == s3_store.url


def test_s3_errors_say_what_to_check(seaweed_s3: SeaweedS3) -> None:
    missing = S3Store("no-such-bucket-x1", "", endpoint_url=seaweed_s3.endpoint_url,
                      credentials=seaweed_s3.credentials)
    with pytest.raises(StoreError, match="does not exist: check --store"):
        missing.put("a", b"1")
    bucket = seaweed_s3.create_bucket("lake-readonly-x1")
    reader = S3Store(bucket, "", endpoint_url=seaweed_s3.endpoint_url,
                     credentials=seaweed_s3.reader_credentials)
    with pytest.raises(StoreError, match="access denied"):
        reader.put("a", json.dumps({}).encode())
    unreachable = S3Store(bucket, "", endpoint_url="http://127.0.0.1:9",
                          credentials=seaweed_s3.credentials, max_attempts=1)
    with pytest.raises(StoreError, match="cannot reach S3"):
        unreachable.exists("a")
