"""Camera displacement: known shifts of real photos are found to well under a pixel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from fieldagent.quality.metrics import displacement, luminance
from tests.support.photos import REAL, photo

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real photos not available")



def plant_mask(rgb: np.ndarray) -> np.ndarray:
    """Green pixels (excess green), a stand-in for the segmentation the pipeline runs."""
    exg = 2 * rgb[..., 1] - rgb[..., 0] - rgb[..., 2]
    return np.asarray(ndi.binary_opening(exg > 0.1), dtype=bool)


def moved(gray: np.ndarray, dy: float, dx: float, seed: int = 0) -> np.ndarray:
    """The scene moved by (dy, dx) px, with fresh sensor noise."""
    out = ndi.shift(gray, (dy, dx), order=3, mode="nearest")
    noise = np.random.default_rng(seed).normal(0, 0.004, gray.shape)
    return (out + noise).astype(np.float32)


SHIFTS = [(7.0, -3.5), (-12.25, 20.75), (0.5, 0.0), (2.3, 1.6)]


@pytest.mark.parametrize("name", ["arabidopsis_tray.jpg", "leaves_16mp.jpg"])
@pytest.mark.parametrize(("dy", "dx"), SHIFTS)
def test_known_shift_found_without_mask(name: str, dy: float, dx: float) -> None:
    gray = luminance(photo(name))
    fy, fx, error = displacement(gray, moved(gray, dy, dx), upsample=10)
    assert abs(fy - dy) < 0.25 and abs(fx - dx) < 0.25, (fy, fx)
    assert error < 0.1


@pytest.mark.parametrize("name", ["arabidopsis_tray.jpg", "plantcv_vis_side.jpg"])
@pytest.mark.parametrize(("dy", "dx"), SHIFTS)
def test_known_shift_found_on_background_mask(name: str, dy: float, dx: float) -> None:
    rgb = photo(name)
    gray, background = luminance(rgb), ~plant_mask(rgb)
    shifted_bg = ndi.shift(background.astype(np.float32), (dy, dx), order=0) > 0.5
    # the frame's own mask, and one mask shared by both frames
    for ref_mask in (background, None):
        fy, fx, error = displacement(
            gray, moved(gray, dy, dx), mask=shifted_bg, reference_mask=ref_mask
        )
        assert abs(fy - dy) < 0.25 and abs(fx - dx) < 0.25, (fy, fx, ref_mask is None)
        assert error < 0.1


def test_background_mask_ignores_grown_plants() -> None:
    """Plants that grew (and changed colour at their rim) do not pull the estimate."""
    rgb = photo("arabidopsis_tray.jpg")
    plants = plant_mask(rgb)
    grown = ndi.binary_dilation(plants, iterations=6)
    later = rgb.copy()
    later[grown & ~plants] = np.median(rgb[plants], axis=0)
    gray, later_gray = luminance(rgb), moved(luminance(later), 3.0, -2.0)
    later_bg = ndi.shift((~grown).astype(np.float32), (3.0, -2.0), order=0) > 0.5
    fy, fx, _ = displacement(gray, later_gray, mask=later_bg, reference_mask=~plants)
    assert abs(fy - 3.0) < 0.5 and abs(fx + 2.0) < 0.5


def test_error_separates_same_view_from_another_scene() -> None:
    tray = luminance(photo("arabidopsis_tray.jpg"))
    leaves = luminance(photo("leaves_16mp.jpg"))
    assert tray.shape == leaves.shape
    assert displacement(tray, moved(tray, 1.0, 1.0))[2] < 0.05
    assert displacement(tray, leaves)[2] > 0.85
    assert displacement(tray, leaves, mask=np.ones(tray.shape, dtype=bool))[2] > 0.85


def test_bad_inputs_are_refused() -> None:
    gray = luminance(photo("plantcv_multi_tray.jpg"))
    with pytest.raises(ValueError, match="shape"):
        displacement(gray, gray[:-1])
    with pytest.raises(ValueError, match="empty"):
        displacement(gray, gray, mask=np.zeros(gray.shape, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        displacement(gray, gray, mask=np.ones((3, 3), dtype=bool))
