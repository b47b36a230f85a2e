"""Noise fields for texture and small fast helpers (value noise, clipping, smoothstep).

Rendering a bench must take well under 0.3 s, so the helpers avoid numpy's Python-level
wrappers (np.clip) and costly ufuncs (pow, exp) and work in place where they can.
"""

from __future__ import annotations

import numpy as np

from fieldagent.synth.spec import FloatImage

F = np.float32


def rng_for(*keys: int) -> np.random.Generator:
    """A generator for one named stream of randomness (seed, stream, item...)."""
    return np.random.default_rng([abs(int(k)) for k in keys])


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int],
                 scale_y: float, scale_x: float | None = None) -> FloatImage:
    """Zero-mean value noise of roughly unit spread, features about `scale` pixels across.

    A coarse random lattice, upsampled separably with smoothstep weights (cheap, C1-smooth).
    Different `scale_y` and `scale_x` give streaks (wood grain, brushed metal).
    """
    h, w = shape
    sy, sx = max(scale_y, 1.0), max(scale_y if scale_x is None else scale_x, 1.0)
    low = rng.standard_normal((int(h / sy) + 2, int(w / sx) + 2)).astype(F)
    low *= F(1.45)
    return upsample(low, shape, sy, sx)


def upsample(low: FloatImage, shape: tuple[int, int], sy: float, sx: float) -> FloatImage:
    """Smoothly interpolate a lattice whose cells are (sy, sx) output pixels."""
    return _upsample_axis(_upsample_axis(low, shape[1], sx, axis=1), shape[0], sy, axis=0)


def _upsample_axis(low: FloatImage, n: int, scale: float, axis: int) -> FloatImage:
    """Interpolate `low` along one axis to `n` samples spaced 1/scale lattice cells apart."""
    pos = np.arange(n, dtype=F) / F(scale)
    i0 = pos.astype(np.intp)
    t = pos - i0
    t = t * t * (F(3.0) - F(2.0) * t)
    step = np.diff(low, axis=axis)
    out = np.take(low, i0, axis=axis)
    delta = np.take(step, i0, axis=axis)
    delta *= t[:, None] if axis == 0 else t[None, :]
    out += delta
    return out


def fbm(rng: np.random.Generator, shape: tuple[int, int],
        scales: tuple[float, ...], weights: tuple[float, ...]) -> FloatImage:
    """Sum of smooth noise octaves (stains, mottling), built on a coarse grid and upsampled
    once, so extra octaves cost almost nothing at full resolution."""
    step = max(1.0, min(scales) / 4)
    coarse = (int(shape[0] / step) + 2, int(shape[1] / step) + 2)
    low = np.zeros(coarse, F)
    for scale, weight in zip(scales, weights, strict=True):
        low += F(weight) * smooth_noise(rng, coarse, scale / step)
    return upsample(low, shape, step, step)


def fine_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatImage:
    """Per-pixel grain, zero mean, std ~0.41 (triangular: sum of two uniforms)."""
    a = rng.integers(0, 256, shape, dtype=np.uint8).astype(F)
    a += rng.integers(0, 256, shape, dtype=np.uint8)
    a *= F(1 / 255)
    a -= F(1.0)
    return a


def uniform_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatImage:
    """Cheapest per-pixel noise: uniform in -0.5..0.5 (std 0.29), 8 random bits per pixel."""
    a = rng.integers(0, 256, shape, dtype=np.uint8).astype(F)
    a *= F(1 / 255)
    a -= F(0.5)
    return a


def clip01(x: FloatImage) -> FloatImage:
    """Clip to 0..1 in place (x must be a temporary) and return it."""
    np.maximum(x, F(0), out=x)
    np.minimum(x, F(1), out=x)
    return x


def smoothstep(edge0: float, edge1: float, x: FloatImage) -> FloatImage:
    """Hermite step from 0 at edge0 to 1 at edge1 (edge1 < edge0 gives a falling step)."""
    t = clip01((x - F(edge0)) * F(1.0 / (edge1 - edge0)))
    s = F(3.0) - F(2.0) * t
    s *= t
    s *= t
    return s
