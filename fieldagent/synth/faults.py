"""Camera faults as pure functions: uint8 RGB in, uint8 RGB of the same shape out.

Each imitates what a real greenhouse camera suffers: defocus, fog or condensation on the
window, night frames, blown-out exposure and a knocked camera. Deterministic: any noise
comes from an explicit `seed`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from fieldagent.synth.spec import RGBImage
from fieldagent.synth.texture import rng_for, smooth_noise

F = np.float32
AIRLIGHT = np.array([0.90, 0.91, 0.93], F) * F(255)


def _to_uint8(x: np.ndarray) -> RGBImage:
    """Round and clip a float image back to uint8."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _check(img: np.ndarray) -> None:
    """Refuse anything but a uint8 (H, W, 3) image, with a sentence saying what was given."""
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image (H, W, 3), got {img.dtype} {img.shape}")


def blur(img: RGBImage, sigma: float) -> RGBImage:
    """Gaussian defocus with standard deviation `sigma` pixels (0 returns a copy)."""
    _check(img)
    if sigma <= 0:
        return img.copy()
    out = ndimage.gaussian_filter(img.astype(F), sigma=(sigma, sigma, 0), mode="reflect")
    return _to_uint8(out)


def haze(img: RGBImage, strength: float, *, seed: int = 0) -> RGBImage:
    """Fog or condensation: blend towards a bright, slightly uneven veil (airlight ~0.9).

    `strength` 0..1 is the veil's mean opacity (about 0.9 x strength); above 0.3 the
    droplets also scatter, adding a little blur. Lowers contrast, raises the dark channel.
    """
    _check(img)
    s = float(np.clip(strength, 0.0, 1.0))
    if s == 0:
        return img.copy()
    h, w = img.shape[:2]
    uneven = smooth_noise(rng_for(seed, 101), (h, w), max(h, w) / 4)
    veil = np.clip(F(0.9 * s) * (F(1) + F(0.12) * uneven), 0.0, 0.97)[..., None]
    out = img.astype(F) * (F(1) - veil) + AIRLIGHT * veil
    if s > 0.3:
        sigma = (s - 0.3) * 0.0025 * max(h, w)
        out = ndimage.gaussian_filter(out, sigma=(sigma, sigma, 0), mode="reflect")
    return _to_uint8(out)


def darken(img: RGBImage, factor: float, *, seed: int = 0) -> RGBImage:
    """A dark or night frame: scale by `factor` (0.05 = night) and add sensor noise
    (read noise plus shot noise), which dominates the little signal that is left."""
    _check(img)
    signal = img.astype(F) * F(max(factor, 0.0))
    rng = rng_for(seed, 102)
    noise = rng.standard_normal(img.shape, dtype=F)
    noise *= F(1.5) + F(0.35) * np.sqrt(signal)
    return _to_uint8(signal + noise)


def overexpose(img: RGBImage, gain: float) -> RGBImage:
    """Too much exposure: multiply by `gain` and clip (2-4 blows out large areas)."""
    _check(img)
    return _to_uint8(img.astype(F) * F(gain))


def shift(img: RGBImage, dx: float, dy: float) -> RGBImage:
    """The camera moved: content translated by (dx, dy) pixels (right, down), with the
    uncovered edge filled by reflection. Sub-pixel parts use a 4-tap cubic (Keys)
    interpolation, which stays sharp; integer shifts are exact copies."""
    _check(img)
    m = int(max(abs(np.floor(dx)), abs(np.floor(dy)))) + 3
    padded = np.pad(img.astype(F), ((m, m), (m, m), (0, 0)), mode="symmetric")
    h, w = img.shape[:2]
    out = _shift_axis(_shift_axis(padded, dx, axis=1, n=w, m=m), dy, axis=0, n=h, m=m)
    return _to_uint8(out)


def _shift_axis(src: np.ndarray, d: float, *, axis: int, n: int, m: int) -> np.ndarray:
    """Resample `src` (padded by m) along one axis so that out[i] = src[m + i - d]."""
    i = int(np.floor(d))
    f = d - i
    def window(start: int) -> np.ndarray:
        index: list[slice] = [slice(None)] * src.ndim
        index[axis] = slice(start, start + n)
        return src[tuple(index)]

    if f == 0:
        return window(m - i)
    t = 1.0 - f  # distance of the sample point past tap b = i_out - i - 1
    taps = zip((-1, 0, 1, 2), _keys((t + 1, t, 1 - t, 2 - t)), strict=True)
    out = np.zeros_like(window(0))
    for k, weight in taps:
        out += F(weight) * window(m - i - 1 + k)
    return out


def _keys(xs: tuple[float, ...], a: float = -0.5) -> list[float]:
    """Keys cubic convolution weights at distances `xs`."""
    weights = []
    for x in (abs(v) for v in xs):
        if x <= 1:
            weights.append((a + 2) * x**3 - (a + 3) * x**2 + 1)
        else:
            weights.append(a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a)
    return weights
