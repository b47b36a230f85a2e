"""The realistic greenhouse light: sun over the day, colour temperature, clouds, screens,
lamps, and a colour card that shows the same light as the plants."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np

from fieldagent.colour.card import CARD_REFERENCE, sample_patches
from fieldagent.synth import SceneSpec, render, series
from fieldagent.synth.light import GreenhouseLight, cct_gains, light_at

DAY = datetime(2026, 6, 1, tzinfo=UTC)
LIGHT = GreenhouseLight()


def day(seed: int = 0) -> list:
    return [light_at(DAY + timedelta(minutes=30 * i), LIGHT, seed=seed) for i in range(48)]


def test_colour_temperature_spans_dawn_to_noon_and_warms_toward_the_horizon() -> None:
    lights = [lt for lt in day() if lt.elevation_deg > 0]
    ccts = [lt.cct_k for lt in lights]
    assert min(ccts) < 3000 and max(ccts) == 6500
    by_elevation = sorted(lights, key=lambda lt: lt.elevation_deg)
    assert [lt.cct_k for lt in by_elevation] == sorted(ccts)


def test_warm_light_is_red_heavy_and_cool_light_blue_heavy_at_equal_luminance() -> None:
    warm, cool = cct_gains(2700), cct_gains(6500)
    luma = np.array([0.2125, 0.7154, 0.0721])
    assert warm[0] > 1 > warm[2] and cool[2] > 1 > cool[0]
    assert abs(warm @ luma - 1) < 1e-9 and abs(cool @ luma - 1) < 1e-9
    assert np.allclose(cct_gains(5000), 1.0)


def test_nights_are_dark_or_lamp_lit_and_lamps_are_pink() -> None:
    for lt in day():
        if lt.elevation_deg <= 0:
            assert lt.light == 0.0 or lt.lamps_on
        if lt.lamps_on and lt.elevation_deg <= 0:
            assert lt.tint[1] < min(lt.tint[0], lt.tint[2])  # red + blue, little green


def test_shade_screens_dim_the_midday_sun() -> None:
    noon = DAY + timedelta(hours=12)
    screened = light_at(noon, LIGHT, seed=1)
    open_ = light_at(noon, dataclasses.replace(LIGHT, shade_hours=(0.0, 0.0)), seed=1)
    assert screened.shade_closed and screened.light < open_.light


def test_clouds_flicker_by_seed_and_the_same_seed_repeats() -> None:
    assert [lt.cloud for lt in day(3)] == [lt.cloud for lt in day(3)]
    assert [lt.cloud for lt in day(3)] != [lt.cloud for lt in day(4)]
    assert all(1 - LIGHT.cloud_depth <= lt.cloud <= 1 for lt in day(3))


def test_a_lit_series_follows_the_light_and_its_card_shows_the_reference_at_5000k() -> None:
    spec = SceneSpec(width=320, height=240, rows=1, cols=2, seed=2, card_box=(0.0, 0.0, 0.3, 0.2))
    frames = list(series(spec, frames=6, start=DAY + timedelta(hours=6), interval=timedelta(
        hours=2), lighting=LIGHT))
    assert all(f.light is not None for f in frames)
    lum = [f.image.mean() for f in frames]
    lights = [f.light.light for f in frames if f.light]
    assert np.corrcoef(lum, lights)[0, 1] > 0.9
    neutral = render(dataclasses.replace(spec, light=0.8)).image.astype(np.float32) / 255
    patches = sample_patches(neutral, (0.0, 0.0, 0.3, 0.2), 4, 6)
    ref = np.asarray(CARD_REFERENCE, float) / 255
    ok = ~patches.clipped
    ratio = patches.means[ok] / np.maximum(ref[ok], 1e-3)
    assert np.median(ratio) > 0.6 and np.std(ratio[ref[ok].min(axis=1) > 0.2]) < 0.08
