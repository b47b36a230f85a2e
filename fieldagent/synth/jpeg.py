"""Write frames as JPEG files the way a camera would, with the capture time in EXIF."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
from PIL import Image

EXIF_IFD = 0x8769
DATETIME = 0x0132
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881


def save_jpeg(img: np.ndarray, path: str | os.PathLike[str], *, quality: int = 90,
              timestamp: datetime | None = None) -> None:
    """Write uint8 RGB `img` to `path`. With a timezone-aware `timestamp`, also write EXIF
    DateTimeOriginal (tag 36867, "YYYY:MM:DD HH:MM:SS", in UTC) so the agent can read when
    the frame was captured."""
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"save_jpeg needs a uint8 RGB image (H, W, 3), "
                         f"got {img.dtype} {img.shape}")
    pil = Image.fromarray(img)
    exif = Image.Exif()
    if timestamp is not None:
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware (UTC), e.g. tzinfo=datetime.UTC")
        text = timestamp.astimezone(UTC).strftime("%Y:%m:%d %H:%M:%S")
        exif[DATETIME] = text
        exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = text
        exif.get_ifd(EXIF_IFD)[OFFSET_TIME_ORIGINAL] = "+00:00"
    pil.save(path, format="JPEG", quality=quality, exif=exif.tobytes())
