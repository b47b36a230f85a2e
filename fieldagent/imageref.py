"""Which image a record came from: the file's content hash and its name.

Every record the agent keeps names its image by the SHA-256 of the file's bytes (plus
the camera, the capture time and the file name it arrived under), so the cloud can tell a
repeat from a new image. The agent recognises a file *offered again* after a crash by
``ledger_key``: the content hash, the camera and the file's modification time, which a
take (a rename) keeps. A camera that sends the same bytes again as a new file (a frozen
camera does) gets a new modification time, so that image is analysed: the frozen-frame
check needs it.
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
    mtime_ns: int = 0

    def ledger_key(self, camera: str) -> str:
        """This file's identity for the journal's ledger of handled images."""
        return f"{camera}/{self.sha256}/{self.mtime_ns}"

    @classmethod
    def of_file(cls, path: str | os.PathLike[str], name: str | None = None) -> ImageRef:
        """Hash the file (read in 1 MiB chunks); ``name`` overrides the recorded name
        (the name the camera gave it, before the inbox moved it aside)."""
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            mtime_ns = os.fstat(f.fileno()).st_mtime_ns
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return cls(digest.hexdigest(), name or Path(path).name, mtime_ns)
