"""Colour correction: the same plants give the same signals under 2,700 K, 5,000 K and
6,500 K light, with a colour card and without one; a covered card is noticed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fieldagent.colour import CardConfig, ColourConfig, ColourCorrector, fit_card, sample_patches
from fieldagent.colour.balance import balance_gains
from fieldagent.colour.card import CARD_REFERENCE
from fieldagent.roi.segment import segment_plants
from fieldagent.signals.compute import compute_signals
from fieldagent.synth import SceneSpec, render
from fieldagent.synth.light import cct_gains
from tests.support.photos import photo

CARD = (0.02, 0.02, 0.3, 0.2)
SPEC = SceneSpec(width=480, height=360, rows=1, cols=3, seed=3, card_box=CARD,
                 stress={1: ("chlorosis", 0.5)})
KEYS = ("gcc_p90", "yellow_fraction", "hue_mean_deg")
# Largest acceptable difference to the 5,000 K signals after correction, per signal.
TOLERANCE = {"gcc_p90": 0.015, "yellow_fraction": 0.03, "hue_mean_deg": 3.0}


def as_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def under(kelvin: float, *, light: float = 0.8, frame_seed: int = 9, **kw: object) -> np.ndarray:
    spec = dataclasses.replace(SPEC, tint=tuple(cct_gains(kelvin)), light=light,
                               frame_seed=frame_seed, **kw)  # type: ignore[arg-type]
    return as_float(render(spec).image)


def plant_signals(rgb: np.ndarray) -> dict[str, float]:
    """Signals of the plants below the card, measured as the pipeline does (ExGR mask)."""
    below = rgb[int(0.3 * rgb.shape[0]):]
    s = compute_signals(below, segment_plants(below))
    return {k: s[k] for k in KEYS}


def corrector(card: bool) -> ColourCorrector:
    """A corrector that has seen the camera's usual (5,000 K) light for a few frames."""
    cc = ColourCorrector(ColourConfig(card=CardConfig(box=CARD) if card else None))
    for seed in range(4):
        cc.correct(under(5000, light=1.0, frame_seed=seed))
    return cc


@pytest.mark.parametrize("card", [True, False], ids=["card", "white_balance"])
def test_warm_and_cool_light_give_the_signals_of_neutral_light(card: bool) -> None:
    cc = corrector(card)
    neutral = plant_signals(cc.correct(under(5000))[0])
    for kelvin in (2700, 6500):
        raw = plant_signals(under(kelvin))
        fixed, report = cc.correct(under(kelvin))
        assert report.method == ("card" if card else "white_balance")
        got = plant_signals(fixed)
        for key in KEYS:
            assert abs(got[key] - neutral[key]) <= TOLERANCE[key], (kelvin, key, got, neutral)
        # and the correction is what made the difference at 2,700 K
        if kelvin == 2700:
            shift = abs(raw["hue_mean_deg"] - neutral["hue_mean_deg"])
            assert shift > 3 * TOLERANCE["hue_mean_deg"]


def test_a_visible_card_fits_with_a_small_residual() -> None:
    samples = sample_patches(under(3500), CARD, 4, 6)
    ref = np.asarray(CARD_REFERENCE, float) / 255.0
    fit = fit_card(samples, ref)
    assert fit.ok and fit.residual < 0.05 and fit.patches_used >= 20


def test_a_covered_card_is_detected_and_the_frame_falls_back_to_white_balance() -> None:
    cc = corrector(card=True)
    for cover in (0.5, 0.8):
        _, report = cc.correct(under(3500, card_cover=cover))
        assert report.method == "white_balance"
        assert "colour_card_unreadable" in report.flags and "card" in report.message


def test_a_card_fit_gets_worse_as_more_of_the_card_is_covered() -> None:
    ref = np.asarray(CARD_REFERENCE, float) / 255.0
    residuals = [fit_card(sample_patches(under(4000, card_cover=c), CARD, 4, 6), ref,
                          max_residual=1.0).residual for c in (0.0, 0.2, 0.4)]
    assert residuals == sorted(residuals) and residuals[-1] > 2 * residuals[0]


def test_white_balance_leaves_the_usual_light_alone_and_keeps_brightness() -> None:
    usual = np.array([1.2, 1.0, 0.8])
    assert np.allclose(balance_gains(usual, usual, max_gain=2.5), 1.0)
    warm = usual * cct_gains(2700) / np.mean(usual * cct_gains(2700))
    g = balance_gains(warm, usual, max_gain=2.5)
    assert g[2] > 1.0 > g[0]  # warm light: blue lifted, red lowered
    assert abs(g @ [0.2125, 0.7154, 0.0721] - 1.0) < 1e-9 or g.max() == 2.5


def test_a_real_tray_relit_at_dawn_noon_and_dusk_keeps_its_corrected_signals() -> None:
    """arabidopsis_tray.jpg under the light model's dawn (2,700 K, dim) and dusk colours."""
    tray = photo("arabidopsis_tray.jpg")
    cc = ColourCorrector(ColourConfig())
    for _ in range(3):
        cc.correct(tray)  # the camera's usual light: the photo as taken
    noon = plant_signals(cc.correct(tray)[0])
    for kelvin, light in ((2700, 0.45), (3500, 0.7), (6500, 1.0)):
        relit = np.clip(tray * cct_gains(kelvin).astype(np.float32) * light, 0, 1)
        relit = np.round(relit * 255) / 255  # 8-bit, as a camera delivers it
        got = plant_signals(cc.correct(relit)[0])
        for key in KEYS:
            assert abs(got[key] - noon[key]) <= TOLERANCE[key], (kelvin, key, got, noon)
