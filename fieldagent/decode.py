"""Decode a camera file into the analysis image, paying as little as possible.

A 16 MP JPEG costs more to decode at full resolution than everything the agent
does with it afterwards. Pillow's JPEG *draft* mode lets libjpeg scale by 1/2,
1/4 or 1/8 in the DCT domain, so the analysis image (long side ``max_side``)
is produced without ever materialising the full-resolution pixels.

Inputs that cannot be analysed raise :class:`ImageRejected` with a reason.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fieldagent.errors import ImageRejected

# Modes Pillow can turn into 8-bit RGB without losing meaning.
_EIGHT_BIT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La"}
# Single-channel modes with more than 8 bits, kept at full precision.
_WIDE_GRAY_MODES = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0}
_EXIF_DATETIME_ORIGINAL = 36867
_EXIF_IFD = 0x8769


@dataclass(frozen=True)
class Frame:
    """One decoded image at analysis scale.

    ``rgb`` is float32 in [0, 1], shape (H, W, 3). ``px_scale`` is how many
    full-resolution pixels one analysis pixel spans, so areas can be reported
    in full-resolution pixels or millimetres.
    """

    rgb: np.ndarray
    full_size: tuple[int, int]
    px_scale: float
    source_mode: str
    source_format: str
    captured_at: datetime | None
    file_bytes: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the analysis image."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


def decode(
    path: str | os.PathLike[str],
    *,
    max_side: int = 1024,
    max_pixels: int = 120_000_000,
    max_file_bytes: int = 200_000_000,
    gray: bool = False,
) -> Frame:
    """Read an image file into a :class:`Frame` at analysis scale.

    ``gray=True`` keeps a single channel (for NIR images) and returns it in
    every channel of ``rgb`` so downstream code sees one shape.
    """
    p = Path(path)
    size = _check_file(p, max_file_bytes)
    with _open(p) as im:
        full_size = _oriented_size(im)
        _check_pixels(p, full_size, max_pixels)
        src_mode, src_format = im.mode, im.format or "unknown"
        captured_at = _capture_time(im)
        rgb = _load_scaled(p, im, max_side, gray)
    px_scale = max(full_size) / max(rgb.shape[:2])
    return Frame(rgb, full_size, px_scale, src_mode, src_format, captured_at, size)


def _check_file(p: Path, max_file_bytes: int) -> int:
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ImageRejected("missing", f"{p}: file not found") from None
    except OSError as exc:
        raise ImageRejected("unreadable", f"{p}: cannot read the file ({exc.strerror})") from exc
    if size == 0:
        raise ImageRejected(
            "empty", f"{p}: file is empty (0 bytes); the camera upload probably failed"
        )
    if size > max_file_bytes:
        raise ImageRejected(
            "too_large",
            f"{p}: file is {size / 1e6:.0f} MB, above the limit of {max_file_bytes / 1e6:.0f} MB "
            "(analysis.max_file_bytes); check the camera's output settings",
        )
    return size


def _open(p: Path) -> Image.Image:
    """Open lazily (header only), translating Pillow's errors into rejections."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(p)
    except UnidentifiedImageError:
        raise ImageRejected(
            "not_an_image", f"{p}: not an image format the agent can read (JPEG, PNG, TIFF, ...)"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_large", f"{p}: {exc}") from None
    except OSError as exc:
        raise ImageRejected("unreadable", f"{p}: cannot read the image header ({exc})") from exc


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    w, h = im.size
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not cost the image
        orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _check_pixels(p: Path, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w < 8 or h < 8:
        raise ImageRejected("too_small", f"{p}: image is only {w}x{h} pixels; nothing to analyse")
    if w * h > max_pixels:
        raise ImageRejected(
            "too_large",
            f"{p}: image is {w}x{h} = {w * h / 1e6:.0f} MP, above the limit of "
            f"{max_pixels / 1e6:.0f} MP (analysis.max_pixels); a decompression bomb or a "
            "misconfigured camera",
        )


def _capture_time(im: Image.Image) -> datetime | None:
    """EXIF DateTimeOriginal as UTC (cameras on site clocks are set to UTC by convention)."""
    try:
        raw = im.getexif().get_ifd(_EXIF_IFD).get(_EXIF_DATETIME_ORIGINAL)
        if not raw:
            return None
        return datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    except Exception:
        return None


def _load_scaled(p: Path, im: Image.Image, max_side: int, gray: bool) -> np.ndarray:
    try:
        if im.format == "JPEG":
            _request_draft(im, max_side)
        im.load()
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        im = ImageOps.exif_transpose(im)
        return _to_float_rgb(p, im, max_side, gray)
    except ImageRejected:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = "truncated" if "truncated" in str(exc) or isinstance(exc, EOFError) else "corrupt"
        raise ImageRejected(
            reason,
            f"{p}: image data is {reason} ({exc}); the file was probably cut off in transfer",
        ) from exc


def _request_draft(im: Image.Image, max_side: int) -> None:
    """Ask libjpeg for the smallest DCT scale whose long side is still >= max_side."""
    w, h = im.size
    long_side = max(w, h)
    if long_side <= max_side:
        return
    want = (math.ceil(w * max_side / long_side), math.ceil(h * max_side / long_side))
    mode = "L" if im.mode == "L" else "RGB"
    im.draft(mode, want)


def _to_float_rgb(p: Path, im: Image.Image, max_side: int, gray: bool) -> np.ndarray:
    mode = im.mode
    if mode in _WIDE_GRAY_MODES or mode in ("I", "F"):
        arr = _wide_gray(im, max_side)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode not in _EIGHT_BIT_MODES:
        raise ImageRejected(
            "unsupported_mode",
            f"{p}: pixel format {mode!r} is not supported; send 8/16-bit RGB, grayscale, "
            "RGBA, CMYK or palette images",
        )
    if gray:
        im = im.convert("L").convert("RGB")
    elif mode in ("RGBA", "LA", "PA", "La") or (mode == "P" and "transparency" in im.info):
        im = _flatten_alpha(im)
    im = im.convert("RGB")
    im = _shrink(im, max_side)
    return np.asarray(im, dtype=np.float32) / np.float32(255.0)


def _flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite onto mid grey so transparent pixels read as neither plant nor clipped."""
    rgba = im.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
    return Image.alpha_composite(background, rgba)


def _shrink(im: Image.Image, max_side: int) -> Image.Image:
    w, h = im.size
    long_side = max(w, h)
    if long_side <= max_side:
        return im
    scale = max_side / long_side
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return im.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _wide_gray(im: Image.Image, max_side: int) -> np.ndarray:
    """16-bit / 32-bit grayscale (NIR cameras) to float in [0, 1] at full precision."""
    arr = np.asarray(im)
    if im.mode in _WIDE_GRAY_MODES:
        full = np.float32(_WIDE_GRAY_MODES[im.mode])
    else:
        top = float(arr.max()) if arr.size else 1.0
        full = np.float32(65535.0 if top > 255 else 255.0) if top > 1.0 else np.float32(1.0)
    f = Image.fromarray((arr.astype(np.float32) / full).clip(0, 1).astype(np.float32))
    f = _shrink(f, max_side)
    return np.asarray(f, dtype=np.float32)
