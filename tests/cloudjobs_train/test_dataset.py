"""The lake data set: key-hash splits that never move, class balance, snapshot hash, calibration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cloudjobs.training.dataset import (
    SYNTHETIC,
    TEST_FRACTION,
    UPLOADED,
    VAL_FRACTION,
    Dataset,
    DatasetConfig,
    balance,
    build_dataset,
    split_of,
)
from cloudjobs.training.errors import TrainingError
from cloudjobs.training.labels import LabelRow
from cloudjobs.training.lake import list_images
from fieldagent.inference.preprocess import preprocess
from tests.cloudjobs_train.lakes import START, Upload, upload_crops, write_image

SMALL = DatasetConfig(synthetic=8, calib_min=4, calib_max=16)


def rows(uploads: list[Upload], relabel: dict[str, str] | None = None) -> list[LabelRow]:
    relabel = relabel or {}
    return [LabelRow(i + 2, u.key, relabel.get(u.key, u.label)) for i, u in enumerate(uploads)]


def build(lake: Path, labels: list[LabelRow], cfg: DatasetConfig = SMALL) -> Dataset:
    return build_dataset(list_images(lake), labels, cfg)


def membership(data: Dataset) -> dict[str, str]:
    return {item.key: part.name for part in (data.train, data.val, data.test)
            for item in part.items if item.source == UPLOADED}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Upload]]:
    root = tmp_path_factory.mktemp("lake")
    return root, upload_crops(root, 32, seed=31)


def test_split_does_not_depend_on_the_process() -> None:
    keys = [f"raw/image/site=s/date=2025-06-01/camera=c/0800{i:02d}-{i:016x}.jpg"
            for i in range(60)]
    here = [split_of(k) for k in keys]
    code = ("import json, sys; from cloudjobs.training.dataset import split_of; "
            "print(json.dumps([split_of(k) for k in json.load(sys.stdin)]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(keys), env=env,
                         capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    assert json.loads(out.stdout) == here


def test_split_fractions_follow_the_constants() -> None:
    splits = [split_of(f"raw/image/site=s/date=2025-06-01/x{i}.jpg") for i in range(4000)]
    assert abs(splits.count("test") / 4000 - TEST_FRACTION) < 0.03
    assert abs(splits.count("val") / 4000 - VAL_FRACTION) < 0.03


def test_a_key_keeps_its_split_when_the_lake_grows_and_labels_change(
        lake: tuple[Path, list[Upload]], tmp_path: Path) -> None:
    root, uploads = lake
    before = membership(build(root, rows(uploads)))
    grown = tmp_path / "grown"
    shutil.copytree(root, grown)
    more = upload_crops(grown, 16, seed=32, start=START + timedelta(days=1))
    relabel = {u.key: "necrosis" for u in uploads[::3]}
    after = membership(build(grown, rows(uploads + more, relabel)))
    assert {k: after[k] for k in before} == before
    assert {"train", "validation", "test"} <= set(after.values())


def test_the_held_out_set_holds_uploads_and_generated_crops(
        lake: tuple[Path, list[Upload]]) -> None:
    data = build(lake[0], rows(lake[1]))
    assert {item.source for item in data.test.items} == {UPLOADED, SYNTHETIC}
    for part in (data.train, data.val, data.test):
        assert len(part.x) == len(part.items) and part.x.shape[1:] == (3, 64, 64)


def test_uploads_are_preprocessed_like_the_device(lake: tuple[Path, list[Upload]]) -> None:
    root, uploads = lake
    data = build(root, rows(uploads))
    item, x = next((i, x) for i, x in zip(data.train.items, data.train.x, strict=True)
                   if i.source == UPLOADED)
    with Image.open(root / item.key) as im:
        expected = preprocess([np.asarray(im.convert("RGB"))])[0]
    np.testing.assert_array_equal(x, expected)


def test_balance_gives_generated_crops_to_the_rarest_classes() -> None:
    for have, budget in (([10, 0, 3, 3], 20), ([0, 0, 0, 0], 7), ([5, 1, 1, 1], 2)):
        extra = balance(have, budget)
        total = [h + e for h, e in zip(have, extra, strict=True)]
        assert sum(extra) == budget and min(extra) >= 0
        # every crop went to a class that was not above the others' final level
        assert all(e == 0 or t <= min(total) + 1 for e, t in zip(extra, total, strict=True))


def test_generated_crops_even_out_a_one_class_lake(lake: tuple[Path, list[Upload]]) -> None:
    root, uploads = lake
    all_healthy = rows(uploads, {u.key: "healthy" for u in uploads})
    n_uploaded_train = sum(split_of(u.key) == "train" for u in uploads)
    data = build(root, all_healthy, DatasetConfig(synthetic=3 * n_uploaded_train, calib_min=0))
    counts = data.train.counts(data.classes)
    assert counts[UPLOADED]["healthy"] == n_uploaded_train
    assert counts[SYNTHETIC]["healthy"] == 0
    assert {counts[SYNTHETIC][c] for c in ("chlorosis", "necrosis", "wilting")} == {
        n_uploaded_train}


def test_snapshot_hash_follows_labels_not_their_order_or_notes(
        lake: tuple[Path, list[Upload]]) -> None:
    root, uploads = lake
    base = build(root, rows(uploads))
    reordered = [LabelRow(r.line, r.key, r.label, "note") for r in reversed(rows(uploads))]
    assert build(root, reordered).snapshot_sha256() == base.snapshot_sha256()
    in_train = next(u for u in uploads if split_of(u.key) == "train")
    flipped = "wilting" if in_train.label != "wilting" else "healthy"
    changed = build(root, rows(uploads, {in_train.key: flipped}))
    assert changed.snapshot_sha256() != base.snapshot_sha256()
    assert changed.heldout_sha256() == base.heldout_sha256()
    in_test = next(u for u in uploads if split_of(u.key) == "test")
    flipped = "wilting" if in_test.label != "wilting" else "healthy"
    changed = build(root, rows(uploads, {in_test.key: flipped}))
    assert changed.snapshot_sha256() == base.snapshot_sha256()
    assert changed.heldout_sha256() != base.heldout_sha256()


def test_skipped_keys_are_used_nowhere(lake: tuple[Path, list[Upload]]) -> None:
    root, uploads = lake
    skipped = {u.key for u in uploads[:10]}
    data = build(root, rows(uploads, dict.fromkeys(skipped, "skip")))
    used = {i.key for p in (data.train, data.val, data.test, data.calib) for i in p.items}
    assert not used & skipped and data.skipped == 10


def test_calibration_uses_sampled_train_uploads_and_tops_up_when_few(tmp_path: Path) -> None:
    uploads = upload_crops(tmp_path, 12, seed=33)
    evidence = upload_crops(tmp_path, 12, seed=34, kind="evidence")
    labels = rows(uploads[:6] + evidence)  # half the sampled images stay unlabelled
    data = build(tmp_path, labels, DatasetConfig(synthetic=8, calib_min=40, calib_max=100))
    calib_uploads = {i.key for i in data.calib.items if i.source == UPLOADED}
    assert calib_uploads == {u.key for u in uploads if split_of(u.key) == "train"}
    assert len(data.calib.items) == 40 and data.unlabelled == 6
    capped = build(tmp_path, labels, DatasetConfig(synthetic=8, calib_min=0, calib_max=3))
    assert [i.source for i in capped.calib.items] == [UPLOADED] * 3


def test_the_same_bytes_under_two_keys_are_used_once(tmp_path: Path) -> None:
    crop = np.full((90, 90, 3), (60, 140, 50), np.uint8)
    first = write_image(tmp_path, crop, START)
    second = write_image(tmp_path, crop, START + timedelta(hours=1))
    labels = [LabelRow(2, first, "healthy"), LabelRow(3, second, "healthy")]
    data = build(tmp_path, labels, DatasetConfig(synthetic=10, calib_min=0))
    used = [i.key for p in (data.train, data.val, data.test) for i in p.items
            if i.source == UPLOADED]
    assert used == [first] and data.duplicates == (second,)


def test_an_unreadable_labelled_image_names_its_line(tmp_path: Path) -> None:
    [upload] = upload_crops(tmp_path, 1, seed=35)
    (tmp_path / upload.key).write_bytes(b"not a jpeg")
    with pytest.raises(TrainingError, match=r"line 7: raw/image/.*label it skip"):
        build(tmp_path, [LabelRow(7, upload.key, upload.label)])


def test_an_empty_set_is_an_error_that_says_what_to_do(lake: tuple[Path, list[Upload]]) -> None:
    root, uploads = lake
    with pytest.raises(TrainingError, match=r"set is empty.*--synthetic"):
        build(root, rows(uploads[:2]), DatasetConfig(synthetic=0))


def test_the_lake_listing_ignores_stray_files_and_explains_a_wrong_folder(
        lake: tuple[Path, list[Upload]], tmp_path: Path) -> None:
    root, uploads = lake
    stray = tmp_path / "copy"
    shutil.copytree(root, stray)
    (stray / "raw/image/notes.txt").write_text("x")
    (stray / uploads[0].key).with_suffix(".jpg.tmp").write_bytes(b"partial")
    hidden = stray / uploads[0].key
    (hidden.parent / f".{hidden.name}").write_bytes(b"a store's temporary copy")
    assert [i.key for i in list_images(stray)] == sorted(u.key for u in uploads)
    with pytest.raises(TrainingError, match="no raw/ folder"):
        list_images(stray / "raw")
    with pytest.raises(TrainingError, match="lake folder not found"):
        list_images(tmp_path / "nowhere")
