"""Plants seen from above: the layout of a rosette's leaves, and what stress does to it.

Leaves are placed on a golden-angle spiral, oldest (outer, longest) first. Wilting changes
the geometry and tone of the leaves (drooping towards the image bottom, shorter in
projection, curled, duller); stunting shrinks the plant (see the scene). Chlorosis and
necrosis recolour leaf tissue when it is drawn (`fieldagent.synth.leaves`).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

MAX_LEAVES = 18
GOLDEN = np.deg2rad(137.5)


@dataclass(frozen=True)
class Species:
    """The look shared by the plants of one bench (one crop variety)."""

    hue: float          # degrees
    sat: float
    val: float
    width_ratio: float  # leaf width / length
    wobble: float       # wavy leaf margin amplitude (lettuce-like)
    roundness: float    # 0 = widest near the base, 1 = widest mid-blade


@dataclass(frozen=True)
class Leaf:
    """One leaf blade in cell-patch pixel coordinates."""

    x: float
    y: float
    angle: float
    length: float
    width: float
    age: float          # 1 = oldest, outermost
    rgb: np.ndarray     # (3,)
    jitter: float       # per-leaf symptom variation, 0..1
    phase: float        # phase of the wavy margin
    bend: float         # sideways curvature of the midrib, fraction of length
    roundness: float


@dataclass(frozen=True)
class Symptom:
    """What stress does to this plant."""

    condition: str
    severity: float

    def amount(self, name: str) -> float:
        """Severity if this is the named condition, else 0."""
        return self.severity if self.condition == name else 0.0


def random_species(rng: np.random.Generator) -> Species:
    """A crop variety: basil-, lettuce- or pepper-like leaves of a healthy green."""
    return Species(
        hue=float(rng.uniform(88, 122)), sat=float(rng.uniform(0.52, 0.75)),
        val=float(rng.uniform(0.42, 0.60)), width_ratio=float(rng.uniform(0.40, 0.68)),
        wobble=float(rng.choice([0.0, 0.0, 0.05, 0.08])), roundness=float(rng.uniform(0.1, 0.8)),
    )


def make_leaves(rng: np.random.Generator, species: Species, center: tuple[float, float],
                radius: float, symptom: Symptom, growth: float) -> list[Leaf]:
    """Lay out a rosette. Draws a fixed amount of randomness so plants stay stable as they grow."""
    draws = rng.random((MAX_LEAVES, 9))
    a0 = float(rng.uniform(0, 2 * np.pi))
    n = int(np.clip(round(6 + 6 * min(growth, 1.6) + draws[0, 7] * 2 - 1), 4, MAX_LEAVES))
    wilt = symptom.amount("wilting")
    return [_leaf(draws[i], i, n, a0, species, center, radius, wilt) for i in range(n)]


def _leaf(d: np.ndarray, i: int, n: int, a0: float, species: Species,
          center: tuple[float, float], radius: float, wilt: float) -> Leaf:
    """Leaf i of n (0 = oldest): golden-angle placement, size by age, drooping when wilted."""
    age = 1.0 - i / max(n - 1, 1)
    angle = a0 + i * GOLDEN + (d[0] - 0.5) * 0.45
    if wilt:  # drooping leaves swing towards the image bottom, hanging over the pot rim
        angle += wilt * 0.5 * np.cos(angle) * age
    length = radius * (0.38 + 0.62 * age) * (0.88 + 0.2 * d[1]) * (1 - 0.4 * wilt * age)
    width = length * species.width_ratio * (0.85 + 0.3 * d[2]) * (1 - 0.32 * wilt)
    base = radius * (0.02 + 0.06 * d[3])
    x = center[0] + base * np.cos(angle)
    y = center[1] + base * np.sin(angle) + wilt * 0.14 * radius * age
    bend = (d[8] - 0.5) * (0.22 + 0.2 * wilt)
    roundness = float(np.clip(species.roundness + (d[7] - 0.5) * 0.3, 0, 1))
    return Leaf(x, y, angle, length, width, age, _leaf_rgb(species, d[4], d[5], wilt, age),
                float(d[6]), float(d[5] * 6.28), float(bend), roundness)


def _leaf_rgb(species: Species, dh: float, dv: float, wilt: float, age: float) -> np.ndarray:
    """Per-leaf base colour: the species green varied (young leaves lighter); dull when wilting."""
    hue = (species.hue + (dh - 0.5) * 12 - wilt * 14) / 360.0
    sat = species.sat * (0.88 + 0.24 * dv) * (1 - 0.45 * wilt)
    val = species.val * (0.88 + 0.2 * dh + 0.12 * (1 - age)) * (1 - 0.3 * wilt)
    return np.array(colorsys.hsv_to_rgb(hue, min(sat, 1.0), min(val, 1.0)), np.float32)
