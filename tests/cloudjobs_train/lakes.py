"""Build small lake folders the way the agents fill them: JPEGs under content-derived keys."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from fieldagent.synth import MODEL_CLASSES, labelled_crops
from fieldcontract.keys import object_key

START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Upload:
    """One image written into the lake, with the class it was generated as."""

    key: str
    label: str


def write_image(root: Path, img: np.ndarray, when: datetime, *, kind: str = "image",
                site: str = "north", camera: str = "bench-1", quality: int = 90) -> str:
    """Encode ``img`` as JPEG and store it under its object key; return the key."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    data = buf.getvalue()
    key = object_key(kind, site, when, hashlib.sha256(data).hexdigest(), suffix=".jpg",
                     camera=camera)
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key


def upload_crops(root: Path, n: int, *, seed: int, kind: str = "image",
                 sites: tuple[str, ...] = ("north", "south"),
                 start: datetime = START) -> list[Upload]:
    """``n`` generated crops (balanced classes) uploaded one minute apart across ``sites``."""
    crops, labels = labelled_crops(n, seed=seed)
    return [
        Upload(write_image(root, crop, start + timedelta(minutes=i), kind=kind,
                           site=sites[i % len(sites)]), MODEL_CLASSES[int(label)])
        for i, (crop, label) in enumerate(zip(crops, labels, strict=True))
    ]


def write_labels(path: Path, rows: list[tuple[str, str]], *, note: str = "") -> Path:
    """A labels CSV with a header, as an agronomist's spreadsheet would save it."""
    lines = ["key,label,note", *(f"{key},{label},{note}" for key, label in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
