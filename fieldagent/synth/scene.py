"""Render a whole bench: background, pots or soil strips, plants, light and sensor noise."""

from __future__ import annotations

import numpy as np

from fieldagent.synth.background import (
    Look,
    PotStamp,
    bench,
    draw_pot,
    draw_strip,
    pot_stamp,
    random_look,
)
from fieldagent.synth.card import draw_card
from fieldagent.synth.leaves import draw_leaves
from fieldagent.synth.plants import Species, Symptom, make_leaves, random_species
from fieldagent.synth.spec import FloatImage, PlantTruth, RGBImage, Scene, SceneSpec
from fieldagent.synth.texture import (
    clip01,
    fine_noise,
    rng_for,
    smooth_noise,
    uniform_noise,
    upsample,
)

F = np.float32
Box = tuple[int, int, int, int]
# Randomness streams, so that e.g. sensor noise never shifts the plant layout.
_LOOK, _TEX, _BENCH, _CELL, _LEAVES, _STRIP, _SENSOR, _ROOF = range(1, 9)


def render(spec: SceneSpec) -> Scene:
    """Draw the scene described by `spec`, with its exact ground truth."""
    return render_framed(spec, framed=True)


def render_framed(spec: SceneSpec, *, framed: bool) -> Scene:
    """Render; `framed=False` makes the pot grid fill the image (one-pot crops) and drops the
    lens vignette, so the image is exactly a pot_box as it would appear in a full scene."""
    h, w = spec.height, spec.width
    rng = rng_for(spec.seed, _LOOK)
    look, species = random_look(rng, spec.layout), random_species(rng)
    grid = _grid_box(spec, rng) if framed else (0, 0, w, h)
    tex = _textures(rng_for(spec.seed, _TEX), (h, w))
    rgb = bench(rng_for(spec.seed, _BENCH), (h, w), look.bench, tex)
    mask = np.zeros((h, w), bool)
    cells = _cells(spec, grid)
    stamp = None
    if spec.layout == "rows":
        _draw_strips(rgb, tex, spec, cells, look)
    else:
        size = min(min(x1 - x0, y1 - y0) for x0, y0, x1, y1 in cells)
        stamp = pot_stamp(size * rng.uniform(0.43, 0.47), look)
    plants = tuple(_draw_cell(rgb, mask, tex, spec, index, box, look, species, stamp)
                   for index, box in enumerate(cells))
    if spec.card_box is not None:
        draw_card(rgb, spec.card_box, spec.card_cover)
    image = _expose(rgb, spec, vignette=framed)
    grid_box = (grid[0] / w, grid[1] / h, grid[2] / w, grid[3] / h)
    return Scene(spec=spec, image=image, plant_mask=mask, plants=plants, grid_box=grid_box)


def _grid_box(spec: SceneSpec, rng: np.random.Generator) -> Box:
    """The pot grid in pixels: most of the frame, with a seed-dependent margin."""
    mx = spec.width * rng.uniform(0.025, 0.06)
    my = spec.height * rng.uniform(0.03, 0.07)
    ox, oy = rng.uniform(-0.4, 0.4, 2) * (mx, my)
    return (round(mx + ox), round(my + oy),
            round(spec.width - mx + ox), round(spec.height - my + oy))


def _cells(spec: SceneSpec, grid: Box) -> list[Box]:
    """rows x cols equal cells over the grid box, row-major, as integer pixel boxes."""
    xs = np.linspace(grid[0], grid[2], spec.cols + 1).round().astype(int)
    ys = np.linspace(grid[1], grid[3], spec.rows + 1).round().astype(int)
    return [(int(xs[c]), int(ys[r]), int(xs[c + 1]), int(ys[r + 1]))
            for r in range(spec.rows) for c in range(spec.cols)]


def _textures(rng: np.random.Generator, shape: tuple[int, int]) -> FloatImage:
    """Shared unit-spread noise planes (3, H, W): per-pixel grain, ~3 px crumbs, ~10 px mottling."""
    tex = np.empty((3, *shape), F)
    tex[0] = fine_noise(rng, shape) * F(2.4)
    tex[1] = smooth_noise(rng, shape, 2.5)
    tex[2] = smooth_noise(rng, shape, 10.0)
    return tex


def _draw_strips(rgb: FloatImage, tex: FloatImage, spec: SceneSpec, cells: list[Box],
                 look: Look) -> None:
    """One soil strip per row, centred in the row band, gaps of floor between strips."""
    rng = rng_for(spec.seed, _STRIP)
    for r in range(spec.rows):
        x0, y0, _, y1 = cells[r * spec.cols]
        x1 = cells[r * spec.cols + spec.cols - 1][2]
        band = y1 - y0
        fill = rng.uniform(0.62, 0.78)
        top, bottom = band * (1 - fill) / 2, band * (1 + fill) / 2
        draw_strip(rgb[:, y0:y1, x0:x1], tex[:, y0:y1, x0:x1], top, bottom, look, rng)


def _draw_cell(rgb: FloatImage, mask: np.ndarray, tex: FloatImage, spec: SceneSpec, index: int,
               box: Box, look: Look, species: Species, stamp: PotStamp | None) -> PlantTruth:
    """Draw one pot (for the pots layout) and its plant; return the plant's ground truth."""
    x0, y0, x1, y1 = box
    patch, tpatch = rgb[:, y0:y1, x0:x1], tex[:, y0:y1, x0:x1]
    size = float(min(x1 - x0, y1 - y0))
    rng = rng_for(spec.seed, _CELL, index)
    jitter = 0.03 * size
    pot_xy = (round((x1 - x0) / 2 + rng.uniform(-0.6, 0.6) * jitter),
              round((y1 - y0) / 2 + rng.uniform(-0.6, 0.6) * jitter))
    cx = pot_xy[0] + rng.uniform(-0.4, 0.4) * jitter
    cy = pot_xy[1] + rng.uniform(-0.4, 0.4) * jitter
    if stamp is not None:
        draw_pot(patch, tpatch, pot_xy, stamp, look)
    condition, severity = spec.stress.get(index, ("healthy", 0.0))
    symptom = Symptom(condition, float(severity) if condition != "healthy" else 0.0)
    radius = _plant_radius(size, jitter, spec.growth, symptom)
    leaves = make_leaves(rng_for(spec.seed, _LEAVES, index), species, (cx, cy), radius,
                         symptom, spec.growth)
    alpha = np.zeros(patch.shape[1:], F)
    draw_leaves(patch, alpha, tpatch, leaves, symptom, look.light, radius, species.wobble)
    mask[y0:y1, x0:x1] |= alpha >= 0.5
    return PlantTruth(index=index, row=index // spec.cols, col=index % spec.cols,
                      center_xy=(x0 + cx, y0 + cy), pot_box=box,
                      condition=condition, severity=symptom.severity)


def _plant_radius(size: float, jitter: float, growth: float, symptom: Symptom) -> float:
    """Rosette radius: proportional to growth while small, easing off towards the largest
    radius that keeps every leaf inside the cell (so growth 1.0 -> 1.5 still shows);
    much smaller when stunted."""
    free = 0.4 * size * growth * (1.0 - 0.62 * symptom.amount("stunted"))
    largest = max((0.5 * size - jitter - 2.0) / 1.22, 1.0)
    return float(free / (1.0 + (free / largest) ** 4) ** 0.25)


def _expose(rgb: FloatImage, spec: SceneSpec, *, vignette: bool) -> RGBImage:
    """Camera response on planar float RGB: illumination gain, colour temperature, lens
    vignette and greenhouse-roof shadows (full frames only), sensor noise; returns
    interleaved uint8 (H, W, 3)."""
    t = spec.warmth
    gain = F(1.2 * 255 * spec.light) * np.array([1 + 0.16 * t, 1 + 0.03 * t, 1 - 0.20 * t], F)
    gain *= np.asarray(spec.tint, F)
    if vignette:
        rgb *= _illumination(rgb.shape[1:], rng_for(spec.seed, _ROOF))
    rgb *= gain[:, None, None]
    # sensor noise, ~2.3 DN: one random plane, each channel reading it one pixel further on
    # (cheap, and as correlated across channels as demosaiced noise is)
    h, w = rgb.shape[1:]
    noise = uniform_noise(rng_for(spec.seed, _SENSOR, spec.frame_seed), (h, w + 2))
    noise *= F(8.0)
    noise += F(0.5)
    for c in range(3):
        rgb[c] += noise[:, c:c + w]
    np.clip(rgb, 0, 255, out=rgb)
    return np.moveaxis(rgb, 0, -1).astype(np.uint8)


def _illumination(shape: tuple[int, int], rng: np.random.Generator) -> FloatImage:
    """Light falloff over the frame: lens vignette times, on most benches, the soft shadows
    of the greenhouse roof bars (parallel bands at a random angle)."""
    h, w = shape
    step = 8.0
    low_h, low_w = int(h / step) + 2, int(w / step) + 2
    yy = np.arange(low_h, dtype=F)[:, None] * F(step) - F(h / 2)
    xx = np.arange(low_w, dtype=F)[None, :] * F(step) - F(w / 2)
    half_diag = F(np.hypot(h, w) / 2)
    light = F(1) - F(0.3) * (yy * yy + xx * xx) / (half_diag * half_diag)
    if rng.random() < 0.7:
        theta = rng.uniform(0, np.pi)
        pitch = max(h, w) * rng.uniform(0.22, 0.4)
        pos = (xx * F(np.cos(theta)) + yy * F(np.sin(theta))) / F(pitch) + F(rng.random())
        near = np.abs(pos - np.round(pos)) * F(pitch / (max(h, w) * rng.uniform(0.012, 0.03)))
        light *= F(1) - F(rng.uniform(0.08, 0.2)) * clip01(F(1.5) - near)
    return upsample(light, shape, step, step)
