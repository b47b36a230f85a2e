"""Recolour part of a real plant to chlorotic yellow or necrotic brown, keeping its texture.

Used by the segmentation tests: real tissue with real texture and real edges, only its
colour moved the way chlorosis and necrosis move it, so "the stressed half stays in the
mask" is tested on a real photo rather than on painted discs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from fieldagent.roi.colour import hsv


@dataclass(frozen=True)
class Symptom:
    """Where a symptom moves a pixel in HSV: hue and saturation set to the symptom's
    (each pixel keeping ``keep`` of its deviation from the plant's median, so the
    tissue stays mottled), value scaled (the texture, pixel-to-pixel variation of
    brightness, kept whole)."""

    hue_deg: float
    saturation: float
    value_scale: float
    keep: float = 0.3


# Chlorosis: green to saturated yellow (hue ~52 deg), a little brighter, as yellowing leaves are.
CHLOROSIS = Symptom(hue_deg=52.0, saturation=0.6, value_scale=1.1)
# Necrosis: tan to mid brown (hue ~30 deg, saturation ~0.5, as the real lesions on the
# leaves-pv corn and grape leaves), darker, as dead tissue is.
NECROSIS = Symptom(hue_deg=30.0, saturation=0.5, value_scale=0.7)


def half_of_each_plant(plant: np.ndarray) -> np.ndarray:
    """The pixels of each connected plant right of that plant's centroid column."""
    labels, n = ndi.label(plant, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros_like(plant)
    cols = np.asarray(ndi.center_of_mass(plant, labels, range(1, n + 1)))[:, 1]
    centre = np.concatenate([[np.inf], cols])[labels]
    return plant & (np.arange(plant.shape[1])[None, :] > centre)


def recolour(rgb: np.ndarray, where: np.ndarray, symptom: Symptom) -> np.ndarray:
    """A copy of ``rgb`` (float [0, 1]) with the pixels ``where`` moved to ``symptom``'s colour."""
    hue, sat, value = hsv(rgb[where])
    new_hue = (symptom.hue_deg + symptom.keep * (hue - float(np.median(hue)))) % 360.0
    new_sat = np.clip(symptom.saturation + symptom.keep * (sat - float(np.median(sat))), 0.0, 1.0)
    new_value = np.clip(value * symptom.value_scale, 0.0, 1.0)
    out = np.array(rgb, dtype=np.float32, copy=True)
    out[where] = _hsv_to_rgb(new_hue, new_sat, new_value)
    return out


def _hsv_to_rgb(hue: np.ndarray, sat: np.ndarray, value: np.ndarray) -> np.ndarray:
    """(N, 3) RGB from hue in degrees, saturation and value (the HSV hexcone)."""
    h6 = (hue / 60.0) % 6.0
    sector = np.floor(h6).astype(int)
    frac = h6 - sector
    p = value * (1 - sat)
    q = value * (1 - sat * frac)
    t = value * (1 - sat * (1 - frac))
    table = np.stack([
        np.stack([value, t, p], -1), np.stack([q, value, p], -1), np.stack([p, value, t], -1),
        np.stack([p, q, value], -1), np.stack([t, p, value], -1), np.stack([value, p, q], -1),
    ])
    return table[sector, np.arange(hue.size)].astype(np.float32)
