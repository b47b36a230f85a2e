"""Drawing leaf blades: geometry, shading, veins and symptoms, batched for speed.

Leaves of similar size are computed together as (n, h, w) stacks, each leaf over its own
box of a common size (numpy call overhead, not arithmetic, dominates small leaves). They
are then composited one by one in drawing order, oldest first, each casting a soft shadow
on what lies below. Each blade lives in its own (along, across) frame with a bent midrib;
coverage is antialiased over one pixel and accumulated into the plant's alpha (the
ground-truth mask at 0.5). Only cheap ufuncs are used (no pow/exp).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fieldagent.synth.plants import Leaf, Symptom
from fieldagent.synth.spec import FloatImage
from fieldagent.synth.texture import clip01

F = np.float32
Box = tuple[int, int, int, int]  # y0, y1, x0, x1 within the patch


def _rgb(r: float, g: float, b: float) -> np.ndarray:
    """A colour shaped (1, 3, 1, 1) to broadcast over (n, 3, h, w) stacks."""
    return np.array([r, g, b], F)[None, :, None, None]


YELLOW = _rgb(0.86, 0.78, 0.20)
PALE = _rgb(0.66, 0.72, 0.28)
BROWN = _rgb(0.47, 0.31, 0.14)
DARK_BROWN = _rgb(0.24, 0.14, 0.07)
VEIN_TINT = _rgb(0.75, 0.95, 0.55)


@dataclass(frozen=True)
class Stack:
    """Per-leaf parameters of a batch, each shaped (n, 1, 1) to broadcast over (n, h, w)."""

    x: np.ndarray
    y: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    length: np.ndarray
    width: np.ndarray
    bend: np.ndarray
    roundness: np.ndarray
    phase: np.ndarray
    age: np.ndarray
    jitter: np.ndarray
    rgb: np.ndarray  # (n, 3, 1, 1)

    @staticmethod
    def of(leaves: list[Leaf]) -> Stack:
        """Stack the parameters of these leaves."""
        def col(name: str) -> np.ndarray:
            return np.array([getattr(leaf, name) for leaf in leaves], F)[:, None, None]
        angles = np.array([leaf.angle for leaf in leaves])[:, None, None]
        return Stack(col("x"), col("y"), np.cos(angles).astype(F), np.sin(angles).astype(F),
                     col("length"), col("width"), col("bend"), col("roundness"), col("phase"),
                     col("age"), col("jitter"),
                     np.stack([leaf.rgb for leaf in leaves]).astype(F)[:, :, None, None])


@dataclass(frozen=True)
class Piece:
    """Where one leaf is computed: `rows` (absolute, half-open) hold its pixels and the
    sources of its shadow; `box` (y0, y1, x0, x1) also holds where that shadow falls."""

    leaf: int
    rows: tuple[int, int]
    box: Box

    @property
    def area(self) -> int:
        """Pixels in the box."""
        return (self.box[1] - self.box[0]) * (self.box[3] - self.box[2])


@dataclass(frozen=True)
class Layer:
    """One computed piece, ready to composite."""

    piece: Piece
    box: Box            # the piece's box, possibly grown to its batch's common size
    col: FloatImage     # (3, h, w) colour premultiplied by coverage
    clear: FloatImage   # (h, w) 1 - coverage
    shadow: FloatImage  # (h, w) light factor its shadow leaves, before the offset


def draw_leaves(rgb: FloatImage, alpha: FloatImage, tex: FloatImage, leaves: list[Leaf],
                symptom: Symptom, light: tuple[float, float], radius: float,
                wobble: float = 0.0) -> None:
    """Draw `leaves` (oldest first) into the planar patch `rgb`; `alpha` ends as the plant's
    coverage (it must start at 0)."""
    off = (round(-light[0] * (2 + 0.06 * radius)), round(-light[1] * (2 + 0.06 * radius)))
    pieces = [p for i, leaf in enumerate(leaves) for p in _pieces(i, leaf, alpha.shape, off)]
    layers: list[Layer] = []
    for group in _groups(pieces):
        layers += _compute(group, leaves, tex, symptom, light, wobble)
    layers.sort(key=lambda layer: layer.piece.leaf)
    clear = np.ones_like(alpha)  # product of (1 - coverage) over the leaves
    for i, layer in enumerate(layers):
        if i == 0 or layers[i - 1].piece.leaf != layer.piece.leaf:
            for other in layers[i:]:  # a leaf's whole shadow falls before the leaf is laid
                if other.piece.leaf != layer.piece.leaf:
                    break
                _cast_shadow(rgb, other, off)
        (a, b), (y0, _, x0, x1) = layer.piece.rows, layer.box
        under = rgb[:, a:b, x0:x1]
        under *= layer.clear[a - y0:b - y0]
        under += layer.col[:, a - y0:b - y0]
        clear[a:b, x0:x1] *= layer.clear[a - y0:b - y0]
    np.subtract(F(1), clear, out=alpha)


def _pieces(index: int, leaf: Leaf, shape: tuple[int, ...], off: tuple[int, int]) -> list[Piece]:
    """The leaf's box: its rows hold the blade and the sources of its shadow; the box is
    grown by the shadow's offset. (Empty if the leaf lies outside the patch.)"""
    pad = 2 + 0.06 * leaf.width  # antialiasing and the shadow's soft edge
    ca, sa = np.cos(leaf.angle), np.sin(leaf.angle)
    hw = leaf.width / 2 + leaf.length * abs(leaf.bend) + pad
    xs = [leaf.x + ca * t - sa * s for t in (-pad, leaf.length + pad) for s in (-hw, hw)]
    ys = [leaf.y + sa * t + ca * s for t in (-pad, leaf.length + pad) for s in (-hw, hw)]
    a, b = max(int(min(ys)), 0), min(int(max(ys)) + 1, shape[0])
    x0 = max(int(min(xs)) + min(off[0], 0), 0)
    x1 = min(int(max(xs)) + 1 + max(off[0], 0), shape[1])
    y0, y1 = max(a + min(off[1], 0), 0), min(b + max(off[1], 0), shape[0])
    if x1 <= x0 or b <= a:
        return []
    return [Piece(index, (a, b), (y0, y1, x0, x1))]


def _groups(pieces: list[Piece]) -> list[list[Piece]]:
    """Batch pieces whose boxes share a common size without wasting much arithmetic (the
    common size stays within 35% of their total area); small pieces, where per-call
    overhead dominates, are batched freely."""
    groups: list[list[Piece]] = []
    for piece in sorted(pieces, key=lambda p: p.area, reverse=True):
        if groups:
            group = [*groups[-1], piece]
            bh = max(p.box[1] - p.box[0] for p in group)
            bw = max(p.box[3] - p.box[2] for p in group)
            if bh * bw < 2500 or bh * bw * len(group) <= 1.35 * sum(p.area for p in group):
                groups[-1] = group
                continue
        groups.append([piece])
    return groups


def _compute(group: list[Piece], leaves: list[Leaf], tex: FloatImage, symptom: Symptom,
             light: tuple[float, float], wobble: float) -> list[Layer]:
    """Colour, coverage and shadow of a batch of pieces over a common box size."""
    h, w = tex.shape[1:]
    bh = max(p.box[1] - p.box[0] for p in group)
    bw = max(p.box[3] - p.box[2] for p in group)
    origins = [(min(p.box[0], h - bh), min(p.box[2], w - bw)) for p in group]
    params = Stack.of([leaves[p.leaf] for p in group])
    oy = np.array([o[0] for o in origins], F)[:, None, None]
    ox = np.array([o[1] for o in origins], F)[:, None, None]
    ys = np.arange(bh, dtype=F)[None, :, None] + (oy - params.y)
    xs = np.arange(bw, dtype=F)[None, None, :] + (ox - params.x)
    t = np.stack([tex[:, y:y + bh, x:x + bw] for y, x in origins])
    along, across, uc, hw = _blade(params, ys, xs, wobble)
    dist = np.abs(across) - hw
    half = params.length * F(0.5)  # beyond the base or tip, the distance to the blade's end
    np.maximum(dist, np.abs(along - half) - half, out=dist)
    cov = clip01(F(0.5) - dist)
    col = _shade(params, along, across, uc, hw, cov, t, symptom, light)
    shadow = clip01(dist * (F(0.42) / (F(2.0) + F(0.12) * params.width)) + F(0.79))
    np.maximum(shadow, F(0.58), out=shadow)
    np.subtract(F(1), cov, out=cov)
    return [Layer(p, (y, y + bh, x, x + bw), col[k], cov[k], shadow[k])
            for k, (p, (y, x)) in enumerate(zip(group, origins, strict=True))]


def _blade(p: Stack, ys: FloatImage, xs: FloatImage,
           wobble: float) -> tuple[FloatImage, FloatImage, FloatImage, FloatImage]:
    """Leaf frame: along (px), across (px, from the bent midrib), u = along/length clipped to
    0..1, and the half-width (px), 0.6 px short of the outline so that beyond the blade's
    ends (half-width -0.6) nothing counts as covered."""
    along = xs * p.cos + ys * p.sin
    uc = clip01(along / p.length)
    across = ys * p.cos - xs * p.sin
    across -= (p.bend * p.length) * (uc * uc)
    # outline: blend of ovate sqrt(u)(1-u) (widest at 1/3) and elliptic u(1-u) (mid-blade)
    hw = np.sqrt(uc) * (p.width * F(1.3) * (F(1) - p.roundness))
    hw += uc * (p.width * F(2.0) * p.roundness)
    hw *= F(1) - uc
    if wobble:
        hw *= F(1.0) + F(wobble) * np.sin((p.length / F(6.0)) * uc + p.phase)
    hw -= F(0.6)
    return along, across, uc, hw


def _shade(p: Stack, along: FloatImage, across: FloatImage, u: FloatImage, hw: FloatImage,
           cov: FloatImage, t: FloatImage, symptom: Symptom,
           light: tuple[float, float]) -> FloatImage:
    """Leaf colour (n, 3, h, w) premultiplied by coverage: curvature shading, light side
    and gloss, mottling, lighter veins, then symptoms. (Kept to few passes: it runs over
    every leaf box.)"""
    vn = across / np.maximum(hw, F(0.7))
    np.minimum(np.maximum(vn, F(-1), out=vn), F(1), out=vn)
    curl = F(1.0 + 1.5 * symptom.amount("wilting"))
    tilt = vn * (p.cos * F(light[1]) - p.sin * F(light[0]))  # > 0: this half faces the light
    shade = np.sqrt(u)
    shade *= F(0.30)
    shade += F(0.70)
    shade *= F(1) - (F(0.24) * curl) * (vn * vn)
    shade += (F(0.14) * curl) * tilt
    gloss = np.maximum(tilt - F(0.4), F(0))
    shade += F(0.9 - 0.7 * symptom.amount("wilting")) * gloss
    shade *= F(1.0) + F(0.07) * t[:, 2]
    veins = _veins(p, along, across)
    chl, nec = symptom.amount("chlorosis"), symptom.amount("necrosis")
    if not (chl or nec):
        shade += F(0.16) * veins
        shade *= cov
        return p.rgb * shade[:, None]
    col = p.rgb * shade[:, None] + VEIN_TINT * (F(0.10) * veins)[:, None]
    if chl:
        col = _chlorosis(col, shade, veins, vn, t, p, chl)
    if nec:
        col = _necrosis(col, shade, u, vn, t, p, nec)
    col *= cov[:, None]
    return col


def _veins(p: Stack, along: FloatImage, across: FloatImage) -> FloatImage:
    """Midrib plus pinnate lateral veins, 0..1 (lighter lines on the blade)."""
    abs_across = np.abs(across)
    midrib = np.maximum(F(1) - abs_across / np.maximum(F(0.04) * p.width, F(0.8)), F(0))
    spacing = np.maximum(p.length / F(7.0), F(4.0))
    phase = (along - F(1.4) * abs_across) / spacing
    phase -= np.floor(phase)                              # sawtooth; a vein where it wraps
    lateral = np.maximum(phase * F(5.0) - F(4.2), F(0))
    return np.maximum(midrib, lateral)


def _chlorosis(col: FloatImage, shade: FloatImage, veins: FloatImage, vn: FloatImage,
               t: FloatImage, p: Stack, chl: float) -> FloatImage:
    """Yellowing between the veins, older leaves first, towards uniform yellow when severe."""
    level = chl * (F(0.35) + F(0.95) * p.age) * (F(0.8) + F(0.4) * p.jitter)
    a = clip01(F(1.8) * level - F(0.35) + F(0.3) * t[:, 2] + F(0.15) * np.abs(vn))
    a *= F(1.0) - F(0.75 * (1 - 0.6 * chl)) * veins
    target = PALE + (YELLOW - PALE) * F(min(1.0, chl * 1.25))
    col += (target * shade[:, None] - col) * a[:, None]
    return col


def _necrosis(col: FloatImage, shade: FloatImage, u: FloatImage, vn: FloatImage,
              t: FloatImage, p: Stack, nec: float) -> FloatImage:
    """Tip burn, marginal scorch and spots of dry brown tissue, ringed by a yellow halo."""
    burn = nec * (F(0.3) + F(0.8) * p.age) * (F(0.7) + F(0.6) * p.jitter)
    tip = (u - (F(1.0) - F(0.6) * burn)) * F(20)
    edge = (np.abs(vn) - (F(1.0) - F(0.5) * burn)) * F(12) + t[:, 1] * F(0.8)
    spot = (t[:, 2] * F(1.3) - (F(1.8) - F(1.7) * burn)) * F(8)
    front = np.maximum(np.maximum(tip, edge), spot)
    dead = clip01(front * F(0.5))
    halo = clip01(front * F(0.25) + F(1.0)) - dead
    col += (YELLOW * shade[:, None] - col) * (F(0.5) * halo)[:, None]
    # dry tissue: tan, darker along the advancing front and in older patches
    dark = clip01(dead * (F(1) - dead) * F(3) + F(0.25) * t[:, 2] + F(0.2))[:, None]
    brown = (BROWN + (DARK_BROWN - BROWN) * dark) * (F(0.75) + F(0.25) * shade[:, None])
    col += (brown - col) * dead[:, None]
    return col


def _cast_shadow(rgb: FloatImage, layer: Layer, off: tuple[int, int]) -> None:
    """Darken what lies under a piece's shadow: the factors of its rows, moved by `off`."""
    (a, b), (y0, _, x0, x1) = layer.piece.rows, layer.box
    ox, oy = off
    h, w = rgb.shape[1:]
    sx0, sx1 = max(x0, -ox), min(x1, w - ox)       # source columns whose target is inside
    sy0, sy1 = max(a, -oy), min(b, h - oy)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    src = layer.shadow[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0]
    rgb[:, sy0 + oy:sy1 + oy, sx0 + ox:sx1 + ox] *= src
