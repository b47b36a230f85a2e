"""Properties of the quality metrics on the real photos (and simple degradations of them)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage as ndi

from fieldagent.quality import metrics
from tests.support.photos import REAL, photo

RGB_PHOTOS = [
    "arabidopsis_tray.jpg",
    "leaves_16mp.jpg",
    "plantcv_multi_tray.jpg",
    "plantcv_vis_side.jpg",
    "plantcv_fusion_rgb.png",
]

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real photos not available")



def gaussian(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return ndi.gaussian_filter(rgb, (sigma, sigma, 0)) if sigma else rgb


def hazy(rgb: np.ndarray, strength: float) -> np.ndarray:
    """Fog: blend towards a bright veil (airlight 0.9)."""
    return (1.0 - strength) * rgb + strength * np.float32(0.9)


@pytest.mark.parametrize("name", RGB_PHOTOS)
def test_blur_score_rises_and_detail_falls_with_blur(name: str) -> None:
    rgb = photo(name)
    sigmas = [0, 1, 2, 4]
    scores = [metrics.blur_score(gaussian(rgb, s)) for s in sigmas]
    detail = [metrics.laplacian_variance(gaussian(rgb, s)) for s in sigmas]
    assert all(a < b for a, b in itertools.pairwise(scores)), scores
    assert all(a > b for a, b in itertools.pairwise(detail)), detail
    assert scores[0] < 0.5 < scores[-1]


@pytest.mark.parametrize("name", RGB_PHOTOS)
def test_blur_score_tells_blur_from_haze_and_darkness(name: str) -> None:
    rgb = photo(name)
    sharp = metrics.blur_score(rgb)
    assert metrics.blur_score(hazy(rgb, 0.5)) == pytest.approx(sharp, abs=0.02)
    assert metrics.blur_score(rgb * np.float32(0.1)) == pytest.approx(sharp, abs=0.02)
    # ...while the Laplacian variance collapses under both, hence "ratio only".
    assert metrics.laplacian_variance(hazy(rgb, 0.5)) < 0.3 * metrics.laplacian_variance(rgb)


@pytest.mark.parametrize("name", RGB_PHOTOS)
def test_haze_lowers_contrast_and_lifts_dark_channel(name: str) -> None:
    rgb = photo(name)
    strengths = [0.0, 0.2, 0.4, 0.6]
    contrast = [metrics.rms_contrast(hazy(rgb, s)) for s in strengths]
    dark = [metrics.dark_channel_mean(hazy(rgb, s)) for s in strengths]
    assert all(a > b for a, b in itertools.pairwise(contrast)), contrast
    assert all(a < b for a, b in itertools.pairwise(dark)), dark


def test_dark_channel_tracks_the_sliding_window_definition() -> None:
    for name in RGB_PHOTOS:
        rgb = photo(name)
        sliding = float(ndi.minimum_filter(rgb.min(axis=2), size=15).mean())
        assert metrics.dark_channel_mean(rgb, patch=15) == pytest.approx(sliding, abs=0.02)


def test_exposure_metrics_follow_gain() -> None:
    rgb = photo("arabidopsis_tray.jpg")
    lum = metrics.mean_luminance(rgb)
    assert metrics.mean_luminance(rgb * np.float32(0.05)) == pytest.approx(0.05 * lum, rel=0.01)
    low, high = metrics.clipped_fractions(rgb)
    assert low < 0.01 and high < 0.01
    _, high3 = metrics.clipped_fractions(np.clip(rgb * 3, 0, 1))
    low_dark, _ = metrics.clipped_fractions(rgb * np.float32(0.02))
    assert high3 > 0.5
    assert low_dark > 0.9


def test_saturated_fraction_counts_only_masked_pixels() -> None:
    rgb = np.full((40, 40, 3), 0.5, dtype=np.float32)
    rgb[:10, :, 1] = 1.0  # a quarter of the frame has its green channel blown out
    mask = np.zeros((40, 40), dtype=bool)
    mask[:20] = True
    assert metrics.saturated_fraction(rgb) == pytest.approx(0.25)
    assert metrics.saturated_fraction(rgb, mask=mask) == pytest.approx(0.5)
    assert metrics.saturated_fraction(rgb, mask=np.zeros_like(mask)) == 0.0


def test_luminance_accepts_gray_and_refuses_other_shapes() -> None:
    gray = np.random.default_rng(0).random((20, 30), dtype=np.float32)
    assert metrics.luminance(gray) is not None
    assert metrics.mean_luminance(gray) == pytest.approx(float(gray.mean()), rel=1e-5)
    with pytest.raises(ValueError, match="RGB"):
        metrics.luminance(np.zeros((20, 30, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="RGB"):
        metrics.dark_channel_mean(gray)


def test_fingerprint_equal_only_for_the_same_pixels() -> None:
    rgb = photo("plantcv_multi_tray.jpg")
    rng = np.random.default_rng(1)
    noisy = np.clip(rgb + rng.normal(0, 1 / 255, rgb.shape), 0, 1).astype(np.float32)
    assert metrics.frame_fingerprint(rgb) == metrics.frame_fingerprint(rgb.copy())
    assert metrics.frame_fingerprint(rgb) != metrics.frame_fingerprint(noisy)
    assert metrics.frame_fingerprint(rgb) != metrics.frame_fingerprint(rgb[:-4])
    assert len(metrics.frame_fingerprint(rgb)) == 16
