"""The real leaf loader, its split and the greenhouse-style views (real photos, no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloudjobs.training import leaves as lv
from cloudjobs.training.greenhouse_view import greenhouse_view
from fieldagent.synth import MODEL_CLASSES

FOLDER = lv.default_leaves_dir()
pytestmark = pytest.mark.skipif(not (FOLDER / lv.LABELS).exists(),
                                reason="shared/data/real/leaves-pv is not beside the repository")


def test_every_photo_maps_onto_a_model_class_and_none_is_wilting() -> None:
    photos = lv.read_labels(FOLDER)
    assert len(photos) == 1225
    names = {MODEL_CLASSES[p.label] for p in photos}
    assert names == {"healthy", "chlorosis", "necrosis"}  # no real wilting photo exists
    assert {p.crop for p in photos} == set(lv.CROPS)
    assert all((p.condition == "healthy") == (not p.diseased) for p in photos)


def test_a_family_without_a_class_is_refused(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "file,crop,condition,health,symptom_family\na.jpg,bean,rust,diseased,pustules\n")
    with pytest.raises(ValueError, match="pustules"):
        lv.read_labels(tmp_path)


def test_split_is_stable_disjoint_and_near_its_shares() -> None:
    files = [p.file for p in lv.read_labels(FOLDER)]
    splits = [lv.split_of(f) for f in files]
    assert splits == [lv.split_of(f) for f in files]
    share = {s: splits.count(s) / len(files) for s in ("train", "val", "test")}
    assert share["test"] == pytest.approx(lv.TEST_SHARE, abs=0.04)
    assert share["val"] == pytest.approx(lv.VAL_SHARE, abs=0.04)


def test_greenhouse_view_keeps_the_leaf_and_replaces_the_grey_card() -> None:
    photos = [p for p in lv.read_labels(FOLDER) if p.crop == "tomato" and not p.diseased][:20]
    masks = [(lv.load_rgb(FOLDER, p), lv.leaf_mask(lv.load_rgb(FOLDER, p))) for p in photos]
    sane = [(rgb, m) for rgb, m in masks if 0.15 < m.mean() < 0.9]  # a leaf, not all or none
    assert len(sane) >= 0.8 * len(masks)
    rgb, mask = sane[0]
    card = rgb[~mask].astype(float).mean(0)
    rng = np.random.default_rng(3)
    views = [greenhouse_view(rgb, mask, rng) for _ in range(12)]
    for v in views:
        assert v.dtype == np.uint8 and v.shape[0] == v.shape[1] and 72 <= v.shape[0] <= 200
        g = v.astype(float)
        assert ((g[..., 1] > g[..., 0]) & (g[..., 1] > g[..., 2])).mean() > 0.05  # leaf green
    # Most views no longer show the photo's grey card as their dominant colour.
    corners = [np.abs(v[:4, :4].reshape(-1, 3).mean(0) - card).max() for v in views]
    assert np.mean(np.array(corners) > 12) >= 0.6


def test_colour_score_is_higher_on_diseased_leaves() -> None:
    photos = [p for p in lv.read_labels(FOLDER) if p.crop == "grape"][::6]
    scores = {p.file: lv.colour_score(lv.load_rgb(FOLDER, p)) for p in photos}
    sick = np.mean([scores[p.file] for p in photos if p.diseased])
    fine = np.mean([scores[p.file] for p in photos if not p.diseased])
    assert sick > fine
