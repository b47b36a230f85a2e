"""One key rule for every store: safe relative keys pass, anything else is refused."""

from __future__ import annotations

import pytest

from objectstore.keys import LOCAL_FOLDERS, check_key, is_local_state


@pytest.mark.parametrize("key", [
    "raw/signals/site=a/date=2024-05-06/000000-0123456789abcdef.json.zst",
    "curated/signals/site=a/date=2024-05-06/part-0.parquet", "state/ingest/log/000001.json",
    "staging/site=a/t1/curated/x/part.parquet", "models/stress/0.2.0/model.onnx",
    "a_b/c+d@e,f;g:h(i)!~j", "x" * 1024,
])  # fmt: skip
def test_keys_of_both_sides_pass(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", [
    "", "/abs", "a/../b", "../x", "a//b", "a/", ".hidden/x", "a/.tmp", "a/./b", "a\\b",
    "a b", "a\nb", "x" * 1025, ".meta/raw/x.json",
])  # fmt: skip
def test_unsafe_keys_are_refused_with_both_sides_wording(key: str) -> None:
    with pytest.raises(ValueError, match="not a safe relative key") as info:
        check_key(key)
    assert "not a relative path" in str(info.value)


def test_every_local_folder_is_local_state_and_no_key() -> None:
    for name in LOCAL_FOLDERS:
        assert is_local_state(name)
        with pytest.raises(ValueError):
            check_key(f"{name}/x")
    assert not is_local_state("raw")
