"""Decoding: every odd input is either handled or refused with a reason, never a traceback."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fieldagent.decode import decode
from fieldagent.errors import ImageRejected
from tests.support.photos import REAL


def _gradient(w: int = 320, h: int = 240) -> np.ndarray:
    x = np.linspace(0, 255, w, dtype=np.float32)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    return np.stack(
        [np.broadcast_to(x, (h, w)), np.broadcast_to(y, (h, w)), np.full((h, w), 90.0)], axis=2
    ).astype(np.uint8)


def _reason(path: Path) -> str:
    with pytest.raises(ImageRejected) as err:
        decode(path)
    assert str(path) in str(err.value), "the message names the file"
    return err.value.reason


def test_zero_byte_file_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    assert _reason(p) == "empty"


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nope.jpg") == "missing"


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("camera 3 is offline\n" * 20)
    assert _reason(p) == "not_an_image"


def test_truncated_jpeg_is_rejected(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_gradient(1600, 1200)).save(buf, "JPEG", quality=90)
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    assert _reason(p) in ("truncated", "corrupt")


def test_truncated_png_is_rejected(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_gradient()).save(buf, "PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(buf.getvalue()[:200])
    assert _reason(p) in ("truncated", "corrupt")


def _png_with_declared_size(path: Path, width: int, height: int) -> None:
    """A tiny file whose header claims a huge image: the decompression-bomb shape."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_decompression_bomb_is_rejected_before_decoding(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    _png_with_declared_size(p, 60_000, 60_000)
    assert _reason(p) == "too_large"


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    Image.fromarray(_gradient(2000, 1500)).save(p)
    with pytest.raises(ImageRejected) as err:
        decode(p, max_pixels=1_000_000)
    assert err.value.reason == "too_large" and "analysis.max_pixels" in str(err.value)


def test_file_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    Image.fromarray(_gradient()).save(p)
    with pytest.raises(ImageRejected) as err:
        decode(p, max_file_bytes=100)
    assert err.value.reason == "too_large"


def test_tiny_image_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "dot.png"
    Image.new("RGB", (4, 4)).save(p)
    assert _reason(p) == "too_small"


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA", "P", "CMYK", "1", "I;16", "I", "F"])
def test_pixel_formats_decode_to_float_rgb(tmp_path: Path, mode: str) -> None:
    base = Image.fromarray(_gradient())
    if mode == "I;16":
        img = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257)
    elif mode in ("I", "F"):
        img = base.convert("L").convert(mode)
    else:
        img = base.convert(mode)
    ext = "tiff" if mode in ("CMYK", "F", "I", "LA") else "png"
    p = tmp_path / f"img.{ext}"
    img.save(p)
    frame = decode(p)
    assert frame.rgb.dtype == np.float32 and frame.rgb.shape == (240, 320, 3)
    assert float(frame.rgb.min()) >= 0.0 and float(frame.rgb.max()) <= 1.0
    assert float(frame.rgb.std()) > 0.05, "the picture survived the conversion"
    assert frame.source_mode == img.mode


def test_sixteen_bit_keeps_precision(tmp_path: Path) -> None:
    ramp = np.tile(np.arange(0, 65536, 64, dtype=np.uint16)[:1000], (50, 1))
    p = tmp_path / "nir16.png"
    Image.fromarray(ramp).save(p)
    frame = decode(p)
    levels = np.unique(frame.rgb[:, :, 0])
    assert levels.size > 256, "16-bit input is not squeezed into 8 bits"


def test_unsupported_mode_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "lab.tiff"
    Image.fromarray(_gradient()).convert("LAB").save(p)
    assert _reason(p) == "unsupported_mode"


def test_palette_with_transparency_is_flattened(tmp_path: Path) -> None:
    img = Image.fromarray(_gradient()).convert("P")
    img.info["transparency"] = 0
    p = tmp_path / "pal.png"
    img.save(p, transparency=0)
    frame = decode(p)
    assert frame.rgb.shape == (240, 320, 3)


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    arr = np.zeros((100, 200, 3), np.uint8)
    arr[:20, :20] = (255, 0, 0)  # red marker top-left of the stored pixels
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 deg clockwise
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif.tobytes(), quality=95)
    frame = decode(p)
    assert frame.size == (100, 200) and frame.full_size == (100, 200)
    top_right = frame.rgb[:20, -20:].mean(axis=(0, 1))
    assert top_right[0] > 0.8 and top_right[1] < 0.3, "marker moved where the viewer sees it"


def test_exif_capture_time_is_read(tmp_path: Path) -> None:
    img = Image.fromarray(_gradient())
    exif = img.getexif()
    exif.get_ifd(0x8769)[36867] = "2026:06:01 12:30:00"
    p = tmp_path / "t.jpg"
    img.save(p, exif=exif.tobytes())
    frame = decode(p)
    assert (
        frame.captured_at is not None
        and frame.captured_at.isoformat() == "2026-06-01T12:30:00+00:00"
    )


def test_large_jpeg_is_decoded_at_analysis_scale(tmp_path: Path) -> None:
    p = tmp_path / "big.jpg"
    Image.fromarray(_gradient(4000, 3000)).save(p, quality=85)
    frame = decode(p, max_side=1024)
    assert max(frame.size) == 1024
    assert frame.full_size == (4000, 3000)
    assert frame.px_scale == pytest.approx(4000 / 1024)


def test_first_frame_of_an_animation(tmp_path: Path) -> None:
    frames = [Image.fromarray(_gradient()).convert("P"), Image.new("P", (320, 240))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert float(decode(p).rgb.std()) > 0.05


@pytest.mark.skipif(not REAL.exists(), reason="shared real photos not present")
@pytest.mark.parametrize(
    "name", ["leaves_16mp.jpg", "arabidopsis_tray.jpg", "plantcv_fusion_nir.png"]
)
def test_real_photos_decode(name: str) -> None:
    frame = decode(REAL / name)
    assert max(frame.size) <= 1024 and frame.rgb.dtype == np.float32
