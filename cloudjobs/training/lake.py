"""The images the sites uploaded, as found in a local copy of the lake (or its bucket root).

Keys follow the contract's raw key scheme (``fieldcontract.keys``)::

    raw/image/site=<site>/date=<YYYY-MM-DD>/camera=<camera>/<HHMMSS>-<digest16>.jpg
    raw/evidence/site=<site>/date=<YYYY-MM-DD>/camera=<camera>/<HHMMSS>-<digest16>.jpg

``raw/image`` holds the sampled images (random, uncertain and daily-reference samples: what
the device's model really sees); ``raw/evidence`` holds alert evidence crops (biased towards
problems, so useful to label but not to calibrate on). A key is the file's path relative to
the lake folder, so the labels file can quote keys exactly as the ``images`` dataset lists them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cloudjobs.training.errors import TrainingError
from fieldcontract import keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LakeImage:
    """One uploaded image: its object key, where it is on disk, and what the key says."""

    key: str
    path: Path
    kind: str  # "image" (sampled) or "evidence" (alert evidence crop)
    site: str
    date: str
    camera: str | None


def parse_key(key: str, path: Path) -> LakeImage | None:
    """The image a key names, or None when the key is not an image key of the contract
    (the ingest's ``images`` dataset lists exactly these keys)."""
    try:
        raw = keys.parse_raw_key(key)
    except ValueError:
        return None
    if not raw.is_image:
        return None
    return LakeImage(key, path, raw.kind, raw.site, raw.date, raw.camera)


def list_images(root: Path) -> list[LakeImage]:
    """Every sampled image and evidence crop under ``root``, sorted by key.

    Files that do not follow the key scheme (temporary files, stray copies) are ignored
    with a debug line; a missing ``raw/`` folder is an error because it almost always means
    ``--lake`` points one level too high or too low.
    """
    if not root.is_dir():
        raise TrainingError(f"{root}: lake folder not found; pass --lake the folder that "
                            "holds raw/ (the bucket root or prefix, synced locally)")
    if not (root / "raw").is_dir():
        raise TrainingError(f"{root}: no raw/ folder in it; pass --lake the folder whose raw/ "
                            "holds image/ and evidence/ (the bucket root or prefix)")
    images = []
    for kind in keys.IMAGE_KINDS:
        for path in sorted((root / "raw" / kind).rglob("*")):
            if not path.is_file():
                continue
            key = path.relative_to(root).as_posix()
            image = parse_key(key, path)
            if image is None:
                log.debug("%s: not an image key of the lake contract; ignored", key)
                continue
            images.append(image)
    return sorted(images, key=lambda image: image.key)
