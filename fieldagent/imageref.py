"""Which image a record came from: the file's content hash and its name.

Every record the agent keeps names its image by the SHA-256 of the file's bytes (plus
the camera, the capture time and the file name it arrived under), so a file offered
again after a crash is recognised before it is analysed twice, and the cloud can tell a
repeat from a new image.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImageRef:
    """An image file's identity: ``sha256`` of its bytes and the ``file`` name it had."""

    sha256: str
    file: str

    @classmethod
    def of_file(cls, path: str | os.PathLike[str], name: str | None = None) -> ImageRef:
        """Hash the file (read in 1 MiB chunks); ``name`` overrides the recorded name
        (the name the camera gave it, before the inbox moved it aside)."""
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return cls(digest.hexdigest(), name or Path(path).name)
