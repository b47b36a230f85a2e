"""The segmentation's fast paths give what the plain full-frame formulas give."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from fieldagent.roi import background, morph, segment, tissue


def _image(seed: int = 0, shape: tuple[int, int] = (37, 53)) -> np.ndarray:
    return np.random.default_rng(seed).random((*shape, 3), dtype=np.float32)


def test_roughness_at_pixels_matches_a_full_frame_box_filter() -> None:
    rgb = _image()
    red, green, blue = (np.ascontiguousarray(rgb[..., i]) for i in range(3))
    lum = (red + green + blue).astype(np.float64)
    # 3x3 sums with black outside the frame, divided by 9
    mean = ndi.correlate(lum, np.ones((3, 3)), mode="constant") / 9
    square = ndi.correlate(lum * lum, np.ones((3, 3)), mode="constant") / 9
    expected = np.sqrt(np.maximum(square - mean * mean, 0)) / np.maximum(mean, 1e-3)
    flat = np.arange(lum.size)  # every pixel, edges and corners included
    got = tissue.roughness_at(tissue.padded_lum((red, green, blue)), flat)
    np.testing.assert_allclose(got, expected.ravel(), rtol=1e-4, atol=1e-5)


def test_upsample_repeats_each_cell_and_crops_to_the_frame() -> None:
    grid = np.random.default_rng(1).random((5, 7)) < 0.5
    expected = np.repeat(np.repeat(grid, tissue._BLOCK, axis=0), tissue._BLOCK, axis=1)[:18, :26]
    np.testing.assert_array_equal(morph.upsample(grid, (18, 26), tissue._BLOCK), expected)


def test_whole_powers_match_numpy_power() -> None:
    values = np.random.default_rng(2).random(1000)
    for p in (1.0, 2.0, 6.0, 7.0, 2.5):
        np.testing.assert_allclose(segment._power(values, p), np.power(values, p), rtol=1e-12)


def test_index_test_with_folded_gains_matches_the_balanced_index() -> None:
    rgb = _image(3, (64, 64))
    planes = tuple(np.ascontiguousarray(rgb[..., i]) for i in range(3))
    gains = (np.float32(1.3), np.float32(0.9), np.float32(0.8))
    balanced = zip(planes, gains, strict=True)
    red, green, blue = (np.minimum(c * g, np.float32(1.0)) for c, g in balanced)
    index = (3 * green - 2.4 * red - blue) / (red + green + blue)
    got = segment._index_above(planes, gains, (-2.4, 3.0, -1.0), 0.05)
    clear = np.abs(index - 0.05) > 1e-4  # rounding may differ right at the threshold
    np.testing.assert_array_equal(got[clear], (index > 0.05)[clear])


def test_whole_frame_roughness_matches_the_per_pixel_gather() -> None:
    rgb = _image(4, (41, 57))
    lum = tissue.padded_lum(tuple(np.ascontiguousarray(rgb[..., i]) for i in range(3)))
    cv = tissue.roughness_at(lum, np.arange(41 * 57)).reshape(41, 57)
    for threshold in (0.05, 0.2, 0.4):
        clear = np.abs(cv - threshold) > 1e-4  # rounding may differ right at the threshold
        got = background._rough(lum, (41, 57), threshold)
        np.testing.assert_array_equal(got[clear], (cv >= threshold)[clear])
