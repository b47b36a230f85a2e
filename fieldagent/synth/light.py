"""Realistic greenhouse light over the day: sun, colour temperature, clouds, screens, lamps.

A greenhouse camera sees warm, dim light at dawn and dusk (2,700 K near the
horizon), cool bright light at noon (6,500 K), clouds that flicker from frame
to frame, shade screens that close over the brightest hours and grow lamps
(pink LED: red + blue, little green) at the ends of the day. :func:`light_at`
turns a timestamp into the render's ``light`` (brightness) and ``tint`` (the
light's colour as red, green, blue gains); everything is a pure function of the
time and the seed. The timestamp's own clock is taken as solar time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

_LUMA = np.array([0.2125, 0.7154, 0.0721])
_REFERENCE_K = 5000.0


@dataclass(frozen=True)
class GreenhouseLight:
    """What the light does over a day (hours are the timestamp's clock)."""

    sunrise_hour: float = 6.0
    sunset_hour: float = 20.0
    max_elevation_deg: float = 60.0
    cloud_depth: float = 0.3  # a cloud dims the sun by up to this share, random per frame
    shade_hours: tuple[float, float] = (11.0, 15.0)
    shade_transmission: float = 0.55
    lamp_hours: tuple[tuple[float, float], ...] = ((4.0, 7.5), (18.5, 23.0))
    lamp_level: float = 0.25  # lamp light relative to full sun
    lamp_tint: tuple[float, float, float] = (1.5, 0.75, 1.6)  # pink LED
    auto_exposure: float = 0.5  # share of brightness changes the camera's exposure undoes


@dataclass(frozen=True)
class Light:
    """The light of one moment: what the scene renderer needs, and the truth behind it."""

    elevation_deg: float
    cct_k: float
    cloud: float
    shade_closed: bool
    lamps_on: bool
    light: float  # render brightness (1.0 = full sun after the camera's exposure)
    tint: tuple[float, float, float]  # colour of the light, luminance-normalised gains


def sun_elevation(hour: float, cfg: GreenhouseLight) -> float:
    """Degrees above the horizon: a sine arc from sunrise to sunset, negative at night."""
    day = cfg.sunset_hour - cfg.sunrise_hour
    phase = (hour - cfg.sunrise_hour) / day
    if 0.0 <= phase <= 1.0:
        return cfg.max_elevation_deg * math.sin(math.pi * phase)
    return -10.0


def cct_of_elevation(elevation_deg: float) -> float:
    """Correlated colour temperature of daylight: 2,700 K at the horizon to 6,500 K from 30°."""
    return 2700.0 + 3800.0 * min(1.0, max(0.0, elevation_deg) / 30.0) ** 0.8


def cct_gains(kelvin: float) -> np.ndarray:
    """RGB gains of a black-body-like light at ``kelvin``, relative to 5,000 K.

    Tanner Helland's fit of black-body colour in sRGB, divided by its value at
    5,000 K and normalised to unit luminance: 2,700 K is orange (blue at ~0.4
    of green's share), 6,500 K slightly blue.
    """
    gains = _blackbody_rgb(kelvin) / _blackbody_rgb(_REFERENCE_K)
    return np.asarray(gains / float(gains @ _LUMA), dtype=np.float64)


def _blackbody_rgb(kelvin: float) -> np.ndarray:
    t = min(max(kelvin, 1000.0), 40000.0) / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    if t <= 66:
        g = 99.4708025861 * math.log(t) - 161.1195681661
    else:
        g = 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0
    if t < 66:
        b = 0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307
    return np.clip(np.array([r, g, b], dtype=np.float64), 1.0, 255.0)


def light_at(when: datetime, cfg: GreenhouseLight = GreenhouseLight(), *, seed: int = 0) -> Light:
    """The light at ``when``: sun through clouds and screens, plus lamps, after auto-exposure."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    elevation = sun_elevation(hour, cfg)
    cct = cct_of_elevation(elevation)
    rng = np.random.default_rng([seed, int(when.timestamp()) // 60])
    cloud = 1.0 - cfg.cloud_depth * float(rng.random()) ** 2
    shade = cfg.shade_hours[0] <= hour < cfg.shade_hours[1]
    lamps = any(a <= hour < b for a, b in cfg.lamp_hours)
    sun = max(0.0, math.sin(math.radians(elevation))) / math.sin(
        math.radians(cfg.max_elevation_deg))
    sun *= cloud * (cfg.shade_transmission if shade else 1.0)
    rgb = sun * cct_gains(cct) + (cfg.lamp_level if lamps else 0.0) * np.asarray(cfg.lamp_tint)
    intensity = float(rgb @ _LUMA)
    if intensity <= 0.0:
        return Light(elevation, cct, cloud, shade, lamps, 0.0, (1.0, 1.0, 1.0))
    tint = rgb / intensity
    brightness = intensity ** (1.0 - cfg.auto_exposure)
    return Light(elevation, cct, cloud, shade, lamps, brightness,
                 (float(tint[0]), float(tint[1]), float(tint[2])))
