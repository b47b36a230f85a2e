"""The segmentation with growth (``grow_rounds=4``, the default) against reference masks of
real photos (``tests/roi/reference``).

These tests hold what growth reaches. Thresholds sit below
what it reaches and above what the segmenter without growth (``grow_rounds=0``, the one before
issue 11) reaches; both sets of figures are in ``tests/roi/reference/README.md`` and printed
by ``bench/bench_truth.py``.  They are uniform over the 28 references, not set per photo.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import ndimage as ndi

from fieldagent.roi.config import SegmentationConfig
from fieldagent.roi.segment import segment_plants
from fieldagent.signals.compute import compute_signals
from tests.support.photos import REAL
from tests.support.recolour import CHLOROSIS, NECROSIS, Symptom, half_of_each_plant, recolour
from tests.support.reference_masks import names, precision, recall, reference, score

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real photos not available")

# A leaf close-up that fills the frame edge to edge: there is no background to contrast
# with, the seeds cover only the greenest third and the white balance reads the leaf as
# grey. Known failure (IoU 0.32, as before), kept visible rather than dropped.
FILLS_FRAME_UNSOLVED = {"pv-corn-healthy-1"}


GROWING = SegmentationConfig(grow_rounds=4)


@cache
def mask_of(name: str) -> np.ndarray:
    return segment_plants(reference(name).rgb, config=GROWING)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="leaf fills the frame"))
     if n in FILLS_FRAME_UNSOLVED else n for n in names()],
)
def test_every_reference_is_found_without_spilling(name: str) -> None:
    """IoU >= 0.6 on every reference: the segmenter reaches 0.66-0.98 (lowest: a corn leaf
    with lesions along both edges); before, six references were below 0.6 (0.22 on the
    worst corn leaf spot, 0.34 and 0.51 on two grape leaves).  Precision >= 0.9: growth
    must not spill onto board, cloth or soil (reached: 0.94-1.0)."""
    scores = score(mask_of(name), reference(name))
    assert scores.iou >= 0.6, scores
    assert scores.precision >= 0.9, scores


def test_references_overall_iou_and_stressed_tissue_recall() -> None:
    """Mean IoU >= 0.85 (reached 0.89, before 0.76); stressed tissue (yellow and brown pixels
    inside the reference) kept: mean recall >= 0.6 (reached 0.69, before 0.28) and >= 0.25
    on each of the 16 references with symptoms (lowest reached 0.32; before, eight were below,
    at 0.02-0.16: corn leaf spot, grape rot and measles, the tobacco frame)."""
    all_scores = {name: score(mask_of(name), reference(name)) for name in names()}
    assert np.mean([s.iou for s in all_scores.values()]) >= 0.85
    stressed = {n: s.stressed_recall for n, s in all_scores.items() if reference(n).has_stress}
    assert len(stressed) >= 12, "the references should show symptoms"
    assert np.mean(list(stressed.values())) >= 0.6, stressed
    assert min(stressed.values()) >= 0.25, stressed


# Healthy references with a background around the plant (the corn close-ups have none).
RECOLOURED = ["arabidopsis_tray", "leaves_16mp", "pv-grape-healthy-1", "pv-grape-healthy-2",
              "pv-tomato-healthy-2", "pv-tomato-healthy-5", "pv-tomato-healthy-6"]


@pytest.mark.parametrize("symptom", [CHLOROSIS, NECROSIS], ids=["yellow", "brown"])
@pytest.mark.parametrize("name", RECOLOURED)
def test_tissue_recoloured_yellow_or_brown_stays_in_the_mask(name: str, symptom: Symptom) -> None:
    """Half of every real plant recoloured (texture kept): >= 0.6 of it stays in the mask
    (reached 0.68-1.0; before: 0.0-0.06 on the lab leaves, 0.0 brown and 0.66 yellow on the
    tobacco frame, 0.76-0.86 on the tray), and precision against the reference falls by at
    most 0.02."""
    ref = reference(name)
    half = half_of_each_plant(ref.plant)
    mask = segment_plants(recolour(ref.rgb, half, symptom), config=GROWING)
    assert recall(mask, half) >= 0.6
    assert precision(mask, ref.plant) >= precision(mask_of(name), ref.plant) - 0.02


def _pasted(rgb: np.ndarray, plant: np.ndarray, colour: tuple[float, float, float],
            side: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` with a flat ``side``-px square of ``colour`` (a label, a card patch) on the
    background, ``gap`` to ``2 * gap + side`` px from the nearest plant pixel."""
    dist = ndi.distance_transform_edt(~plant)
    ok = (dist >= gap) & (dist <= 2 * gap + side)
    fits = ndi.minimum_filter(ok.astype(np.uint8), size=side, mode="constant") > 0
    ys, xs = np.nonzero(fits)
    assert ys.size, "no room for the patch"
    y0, x0 = ys[ys.size // 2] - side // 2, xs[ys.size // 2] - side // 2
    patch = np.zeros(plant.shape, bool)
    patch[y0 : y0 + side, x0 : x0 + side] = True
    noise = np.random.default_rng(0).normal(0, 0.01, (side, side, 3))
    out = np.array(rgb, copy=True)
    out[patch] = np.clip(np.asarray(colour) + noise, 0, 1).reshape(-1, 3)
    return out, patch


# ColorChecker yellow, orange, light and dark skin (sRGB), and a yellowed paper label.
NON_PLANT = {"yellow": (0.93, 0.78, 0.13), "orange": (0.85, 0.48, 0.17),
             "light_skin": (0.76, 0.58, 0.50), "dark_skin": (0.45, 0.32, 0.26),
             "label": (0.90, 0.85, 0.62)}


@pytest.mark.parametrize("colour", list(NON_PLANT))
@pytest.mark.parametrize("name", ["arabidopsis_tray", "leaves_16mp", "pv-grape-healthy-1"])
def test_a_yellow_or_brown_object_beside_a_plant_stays_out(name: str, colour: str) -> None:
    """A flat yellow/orange/brown patch a few pixels from the leaves (on soil, black cloth,
    the lab board) is not plant: at most 5 % of it in the mask."""
    ref = reference(name)
    side = max(12, min(ref.plant.shape) // 20)
    rgb, patch = _pasted(ref.rgb, ref.plant, NON_PLANT[colour], side, gap=4)
    mask = segment_plants(rgb, config=GROWING)
    assert (mask & patch).sum() <= 0.05 * patch.sum()
    assert recall(mask, ref.plant) >= recall(mask_of(name), ref.plant) - 0.02


def test_the_real_colour_card_stays_out() -> None:
    """The ColorChecker beside the tobacco leaves: its yellow, orange and brown patches are
    not plant (its green patch may be; it is 1/24 of the card)."""
    mask = mask_of("leaves_16mp")
    card = mask[25:135, 850:1000]  # the card's box, as drawn for the reference
    assert card.mean() <= 0.05


def test_yellow_and_brown_shares_measured_in_the_mask_match_the_reference() -> None:
    """What the grower sees: ``yellow_fraction + brown_fraction`` measured inside the mask
    against the same measured inside the reference.  Mean absolute error <= 0.03 over all 28
    (reached 0.019; before 0.073, worst 0.56 on a corn leaf spot leaf read as 0.2 % brown
    instead of 50 %), and on every reference with symptoms at least 0.3 of the true share
    (reached >= 0.39; before, as little as 0.04)."""
    errors, shares = [], []
    for name in names():
        ref = reference(name)
        truth = _stress_share(ref.rgb, ref.plant)
        got = _stress_share(ref.rgb, mask_of(name))
        errors.append(abs(got - truth))
        if ref.has_stress:
            shares.append(got / truth)
    assert np.mean(errors) <= 0.03, errors
    assert min(shares) >= 0.3, shares


def _stress_share(rgb: np.ndarray, mask: np.ndarray) -> float:
    signals = compute_signals(rgb, mask)
    return signals["yellow_fraction"] + signals["brown_fraction"]
