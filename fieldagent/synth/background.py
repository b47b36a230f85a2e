"""Everything that is not plant: the bench or floor, pots with soil, soil strips.

Images here are planar float RGB (3, H, W). All surfaces get multi-scale texture (fine
grain, crumbs, stains) so that sharpness and fog metrics see real edges everywhere, as on a
real camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fieldagent.synth.spec import FloatImage
from fieldagent.synth.texture import clip01, fbm, smooth_noise, smoothstep

F = np.float32
BENCHES = ("mesh", "wood", "metal", "fabric")
FLOORS = ("concrete", "fabric")
POT_COLOURS = {
    "black": (0.085, 0.085, 0.095), "terracotta": (0.60, 0.35, 0.23),
    "green": (0.16, 0.27, 0.19), "grey": (0.36, 0.37, 0.38),
}
PERLITE = np.array([0.80, 0.79, 0.74], F)[:, None, None]


@dataclass(frozen=True)
class Look:
    """The materials of one scene, chosen once from the seed."""

    bench: str
    pot_shape: str              # "round" | "square"
    pot_rgb: tuple[float, float, float]
    soil_rgb: tuple[float, float, float]
    light: tuple[float, float]  # unit vector towards the light, image plane


def random_look(rng: np.random.Generator, layout: str) -> Look:
    """Pick bench, pots, soil and light direction for a scene."""
    bench = str(rng.choice(FLOORS if layout == "rows" else BENCHES))
    pot = str(rng.choice(["black", "black", "terracotta", "green", "grey"]))
    soil = np.array([0.24, 0.165, 0.11]) * rng.uniform(0.7, 1.25) * (1, rng.uniform(0.9, 1.05), 1)
    theta = rng.uniform(0, 2 * np.pi)
    return Look(bench, str(rng.choice(["round", "round", "square"])), POT_COLOURS[pot],
                (float(soil[0]), float(soil[1]), float(soil[2])),
                (float(np.cos(theta)), float(np.sin(theta))))


def bench(rng: np.random.Generator, shape: tuple[int, int], kind: str,
          tex: FloatImage) -> FloatImage:
    """The surface under the pots, as planar float RGB (3, H, W)."""
    h, w = shape
    lum = fbm(rng, shape, (max(h, w) / 5, max(h, w) / 18), (0.06, 0.035))
    lum += F(1) + F(0.035) * tex[0] + F(0.025) * tex[1]
    if kind == "wood":
        base = (0.50, 0.45, 0.38)
        lum *= _wood(rng, shape)
    elif kind == "mesh":
        base = (0.50, 0.52, 0.53)
        lum *= _mesh(shape, rng)
    elif kind == "fabric":
        base = (0.17, 0.17, 0.18)
        lum *= _fabric(shape, rng)
    elif kind == "metal":
        base = (0.53, 0.55, 0.56)
        lum += F(0.03) * smooth_noise(rng, shape, 1.5, max(w / 20, 4))
    else:  # concrete: aggregate speckle and crumbs
        base = (0.56, 0.55, 0.52)
        lum += F(0.05) * tex[1] + F(0.03) * tex[2]
    return lum[None] * np.array(base, F)[:, None, None]


def _wood(rng: np.random.Generator, shape: tuple[int, int]) -> FloatImage:
    """Weathered planks along x: per-plank tone, streaky grain, dark gaps between planks."""
    h, w = shape
    plank = max(12, int(h / rng.uniform(9, 14)))
    rows = np.arange(h)
    idx = rows // plank
    tone = F(1) + F(0.08) * rng.standard_normal(idx.max() + 1).astype(F)
    gap = np.where((rows % plank) < max(2, plank // 30), F(0.45), F(1.0))
    lum = smooth_noise(rng, shape, 1.8, max(w / 12, 6)) * F(0.06)
    lum += smooth_noise(rng, shape, 6, max(w / 4, 10)) * F(0.05)
    lum += F(1)
    lum *= (tone[idx] * gap)[:, None]
    return lum


def _fabric(shape: tuple[int, int], rng: np.random.Generator) -> FloatImage:
    """Black woven ground-cover fabric: a fine weave and light guide stripes along x."""
    h, w = shape
    p = max(2, round(min(h, w) / rng.uniform(250, 350)))
    tile = np.ones((2 * p, 2 * p), F)
    tile[:p, :p] = tile[p:, p:] = F(1.25)
    lum = np.tile(tile, (h // (2 * p) + 1, w // (2 * p) + 1))[:h, :w].copy()
    pitch = h / rng.uniform(4, 7)
    rows = np.arange(h, dtype=F)
    stripe = np.abs(rows - F(pitch) * np.round(rows / F(pitch))) < max(1.0, h / 400)
    lum[stripe] *= F(2.6)
    return lum


def _mesh(shape: tuple[int, int], rng: np.random.Generator) -> FloatImage:
    """Expanded-metal bench top: bright diamond strands over darker openings. The pattern
    is periodic, so one integer-sized tile is computed and repeated."""
    h, w = shape
    px = max(6, round(min(h, w) / rng.uniform(26, 36)))
    py = max(4, round(px * 0.6))
    ys = np.arange(py, dtype=F)[:, None] / F(py)
    xs = np.arange(px, dtype=F)[None, :] / F(px)
    strands = []
    for u in (xs + ys, xs - ys):
        tri = np.abs(u - np.floor(u) - F(0.5))  # 0.5 on a strand, 0 mid-opening
        strands.append(smoothstep(0.34, 0.44, tri))
    tile = F(0.5) + F(0.55) * np.maximum(strands[0], strands[1])
    reps = (h // py + 1, w // px + 1)
    return np.tile(tile, reps)[:h, :w]


@dataclass(frozen=True)
class PotStamp:
    """A pot's geometry and light, computed once per scene and stamped into every cell.

    `keep` multiplies what was underneath (the cast shadow outside, 0 inside the pot);
    `pot` is the rim and inner wall colour, already weighted by coverage; `soil` is the
    light on the soil, weighted by its coverage (the texture differs per cell).
    """

    half: int
    keep: FloatImage
    pot: FloatImage
    soil: FloatImage


def pot_stamp(radius: float, look: Look) -> PotStamp:
    """A pot seen from above: shadow on the bench, lit rim, dark inner wall, shaded soil bed.

    Everything is a function of the distance r from the centre and of `facing`, the cosine
    between the pixel's direction and the light (lit side of the rim, shadowed inner wall).
    """
    half = int(np.ceil(radius * 1.2)) + 1
    d = np.arange(-half, half + 1, dtype=F)
    dy, dx = d[:, None], d[None, :]
    lx, ly = look.light
    r = _norm(dx, dy, look.pot_shape)
    facing = (dx * F(lx) + dy * F(ly)) / np.maximum(r, F(1))
    lit = np.maximum(facing, F(0))
    # shadow: the pot's outline pushed away from the light, soft over 0.18 R
    shadow = clip01((r + F(0.08 * radius) * facing) * F(-1 / (0.18 * radius)) + F(1.1 / 0.18))
    shadow *= F(-0.45)
    shadow += F(1)
    inner = radius * 0.85
    soil_cov = clip01(F(inner + 0.5) - r)
    pot_cov = clip01(F(radius + 0.5) - r)
    wall_cov = clip01(F(radius * 0.91 + 0.5) - r)
    rim = F(1) + F(0.35) * facing + F(0.5) * lit * lit
    pot_light = rim + (F(0.55) - F(0.3) * facing - rim) * wall_cov
    pot_light *= pot_cov - soil_cov
    # soil: darker towards the wall (occlusion), the wall's shadow on the lit side
    edge = clip01(r * F(1 / (0.16 * inner)) - F(0.84 / 0.16))
    soil_light = F(1) - edge * (F(0.4) + F(0.2) * lit)
    soil_light *= soil_cov
    return PotStamp(half=half, keep=shadow * (F(1) - pot_cov),
                    pot=np.array(look.pot_rgb, F)[:, None, None] * pot_light,
                    soil=soil_light)


def draw_pot(rgb: FloatImage, tex: FloatImage, center: tuple[int, int], stamp: PotStamp,
             look: Look) -> None:
    """Stamp the pot centred at integer `center` into the planar patch, with this cell's soil."""
    h, w = rgb.shape[1:]
    cx, cy = center
    y0, y1 = max(cy - stamp.half, 0), min(cy + stamp.half + 1, h)
    x0, x1 = max(cx - stamp.half, 0), min(cx + stamp.half + 1, w)
    sy, sx = slice(y0 - cy + stamp.half, y1 - cy + stamp.half), slice(
        x0 - cx + stamp.half, x1 - cx + stamp.half)
    region = rgb[:, y0:y1, x0:x1]
    region *= stamp.keep[sy, sx]
    region += stamp.pot[:, sy, sx]
    region += _soil_texture(tex[:, y0:y1, x0:x1], look.soil_rgb, stamp.soil[sy, sx])


def draw_strip(rgb: FloatImage, tex: FloatImage, top: float, bottom: float,
               look: Look, rng: np.random.Generator) -> None:
    """A soil strip across the patch between `top` and `bottom`, with ragged, shaded edges."""
    h, w = rgb.shape[1:]
    ragged = max(1.0, (bottom - top) * 0.02)
    wobble = smooth_noise(rng, (2, w), 1, max(w / 10, 4)) * F(ragged)
    ys = np.arange(h, dtype=F)[:, None]
    inside = np.minimum(ys - F(top) - wobble[0], F(bottom) + wobble[1] - ys)
    cov = clip01(inside + F(0.5))
    rgb *= (F(1) - F(0.35) * smoothstep(-(bottom - top) * 0.06, 0.0, inside)) * (F(1) - cov)
    light = F(0.8) + F(0.2) * smoothstep(0.0, (bottom - top) * 0.08, inside)
    rgb += _soil_texture(tex, look.soil_rgb, light * cov)


def _soil_texture(tex: FloatImage, base_rgb: tuple[float, float, float],
                  light: FloatImage) -> FloatImage:
    """Granular potting mix: fine grain, crumbs, moisture patches and white perlite bits,
    times `light` (which also carries the soil's coverage)."""
    grain = F(1) + F(0.30) * tex[0] + F(0.22) * tex[1] + F(0.12) * tex[2]
    np.maximum(grain, F(0.3), out=grain)
    perlite = smoothstep(1.9, 2.3, tex[1] + F(0.35) * tex[2])
    grain -= perlite * grain
    grain *= light
    perlite *= light
    return grain[None] * np.array(base_rgb, F)[:, None, None] + perlite[None] * PERLITE


def _norm(dx: FloatImage, dy: FloatImage, shape: str) -> FloatImage:
    """Distance for a round pot, or a rounded-square one (L4 norm: a squircle)."""
    dx2, dy2 = dx * dx, dy * dy
    if shape == "round":
        return np.sqrt(dx2 + dy2)
    return np.sqrt(np.sqrt(dx2 * dx2 + dy2 * dy2))
