"""A transport into a local folder (``file:///DIR``): a mounted disk, a share, or tests.

It keeps the S3 transport's promises with POSIX tools:

* create-only: the bytes go to a temporary file that is fsynced, then hard-linked to the
  key's path. ``link`` fails if the path exists, so an existing object is never replaced
  and a crash leaves either no object or a complete one (never a torn file).
* multipart: parts live under ``.multipart/<upload id>/`` until completion, so an upload
  resumes after a restart just like on S3.

The root folder must already exist: when a removable disk is not mounted, writing into
the empty mount point would silently fill the device's own disk instead.
"""

from __future__ import annotations

import base64
import builtins
import errno
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from fieldagent.uplink.errors import (
    PayloadCorrupt,
    UplinkError,
    UplinkMisconfigured,
    UplinkRejected,
    UplinkUnavailable,
    UploadGone,
)
from fieldagent.uplink.transport import (
    DEFAULT_CONTENT_TYPE,
    Part,
    PutOutcome,
    check_metadata,
    check_parts,
    sha256_b64,
    verify_payload,
)
from objectstore import localfs
from objectstore.keys import META, MULTIPART, check_key

T = TypeVar("T")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}


class LocalTransport:
    """Create-only object store in a folder; keys map to relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.name = f"file://{self.root}"

    @classmethod
    def from_url(cls, url: str) -> LocalTransport:
        """Open ``file:///absolute/dir``."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"uplink target {url!r} is not like file:///absolute/dir")
        return cls(Path(unquote(parts.path)))

    # -- single objects -------------------------------------------------------------

    def put(
        self,
        key: str,
        body: bytes,
        *,
        sha256_hex: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
    ) -> PutOutcome:
        """Write ``key`` create-only after checking ``body`` against ``sha256_hex``."""
        where = self._where("put", key)
        verify_payload(body, sha256_hex, where=where)
        meta = {**check_metadata(metadata), "sha256": sha256_hex.lower()}
        return self._guard(where, lambda: self._create(key, body, content_type, meta))

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists; a missing root folder is ``UplinkUnavailable``, not False."""
        path = self._path(key)
        return self._guard(self._where("exists", key), lambda: self._root_ok() and path.is_file())

    def get(self, key: str) -> bytes:
        """The content of ``key``; a missing key is ``UplinkRejected`` (code NoSuchKey)."""
        where = self._where("get", key)
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            if self.root.is_dir():
                raise UplinkRejected(f"{where}: no such object", code="NoSuchKey") from exc
            raise _translate(exc, where, self.root) from exc
        except OSError as exc:
            raise _translate(exc, where, self.root) from exc

    def list(self, prefix: str) -> builtins.list[str]:
        """Keys under the root that start with ``prefix``, sorted; internal folders skipped."""
        return self._guard(self._where("list", prefix), lambda: self._walk(prefix))

    # -- multipart --------------------------------------------------------------------

    def begin_multipart(
        self, key: str, *, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Create ``.multipart/<id>/`` holding the key and headers; return the id."""
        where = self._where("begin multipart", key)
        check_key(key)
        record = {"key": key, "content_type": content_type, "metadata": check_metadata(metadata)}
        upload_id = uuid.uuid4().hex

        def begin() -> str:
            folder = self._ensure_dir(self._upload_dir(upload_id))
            self._write_atomic(folder / "upload.json", json.dumps(record).encode())
            return upload_id

        return self._guard(where, begin)

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> Part:
        """Store part ``number`` atomically (re-sending a number replaces that part)."""
        where = self._where(f"put part {number} of upload {upload_id}", key)
        if not 1 <= number <= 10_000:
            raise ValueError(f"{where}: part numbers run from 1 to 10000")

        def store() -> None:
            folder, _ = self._upload(key, upload_id, where)
            self._write_atomic(folder / f"part-{number:05d}", data)

        self._guard(where, store)
        digest = hashlib.sha256(data).hexdigest()
        return Part(number=number, etag=digest, sha256_b64=sha256_b64(data), size=len(data))

    def list_parts(self, key: str, upload_id: str) -> builtins.list[Part]:
        """The parts stored for this upload, by number, each re-hashed from disk."""
        where = self._where(f"list parts of upload {upload_id}", key)

        def listing() -> builtins.list[Part]:
            folder, _ = self._upload(key, upload_id, where)
            return [_read_part(p) for p in sorted(folder.glob("part-*"))]

        return self._guard(where, listing)

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[Part], *, sha256_hex: str | None = None
    ) -> PutOutcome:
        """Concatenate the named parts into ``key``, create-only, then drop the upload.

        An unknown upload id while ``key`` exists means an earlier completion got through
        (and its answer was lost): that is ``created=False``, as on S3.
        """
        where = self._where(f"complete upload {upload_id}", key)
        check_parts(parts, where=where)
        try:
            return self._guard(where, lambda: self._complete(key, upload_id, parts, sha256_hex))
        except UploadGone:
            if self.exists(key):
                return PutOutcome(key=key, created=False)
            raise

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Remove the upload's folder; an unknown id is not an error."""
        if _UPLOAD_ID.fullmatch(upload_id):
            folder = self._upload_dir(upload_id)
            self._guard(self._where("abort", key), lambda: shutil.rmtree(folder, True))

    # -- internals --------------------------------------------------------------------

    def _create(self, key: str, body: bytes, content_type: str, meta: dict[str, str]) -> PutOutcome:
        """Write ``body`` to a fsynced temp file, then link it to the key."""
        self._root_ok()
        return self._link_temp(key, localfs.write_temp(self.root, body), content_type, meta)

    def _link_temp(
        self, key: str, tmp: Path, content_type: str, meta: dict[str, str]
    ) -> PutOutcome:
        """Hard-link a complete, fsynced temp file to the key, never replacing an object."""
        final = self._path(key)
        created = localfs.link_new(tmp, final)
        if not created and _file_sha256(final) != meta["sha256"]:
            raise UplinkRejected(
                f"{self._where('put', key)}: a different object is already there; it was "
                "not overwritten: check the key scheme",
                code="KeyCollision",
            )
        if created:
            sidecar = {"content_type": content_type, "metadata": meta}
            meta_dir = self._ensure_dir(self.root / META / final.parent.relative_to(self.root))
            self._write_atomic(meta_dir / (final.name + ".json"), json.dumps(sidecar).encode())
        return PutOutcome(key=key, created=created)

    def _complete(
        self, key: str, upload_id: str, parts: Sequence[Part], sha256_hex: str | None
    ) -> PutOutcome:
        """Stream the parts into one temp file (memory stays flat), check it, link it."""
        where = self._where(f"complete upload {upload_id}", key)
        folder, record = self._upload(key, upload_id, where)
        tmp = self._temp_path()
        try:
            actual = _assemble(folder, parts, tmp, where)
            if sha256_hex is not None and actual != sha256_hex.lower():
                raise PayloadCorrupt(
                    f"{where}: the assembled object has SHA-256 {actual}, not {sha256_hex}: "
                    "the parts do not add up to the file; begin the upload again",
                    code="PayloadCorrupt",
                )
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        meta = {**record["metadata"], "sha256": actual}
        outcome = self._link_temp(key, tmp, record["content_type"], meta)
        shutil.rmtree(folder, ignore_errors=True)
        return outcome

    def _walk(self, prefix: str) -> builtins.list[str]:
        """Every object key under the root starting with ``prefix``."""
        self._root_ok()
        return sorted(k for k in localfs.walk_keys(self.root) if k.startswith(prefix))

    def _upload(self, key: str, upload_id: str, where: str) -> tuple[Path, dict[str, Any]]:
        """The folder and record of a live upload for ``key``, or ``UploadGone``."""
        self._root_ok()
        record = self._upload_dir(upload_id) / "upload.json"
        if not _UPLOAD_ID.fullmatch(upload_id) or not record.is_file():
            raise UploadGone(f"{where}: no such upload; begin a new one", code="NoSuchUpload")
        data: dict[str, Any] = json.loads(record.read_bytes())
        if data["key"] != key:
            raise UploadGone(f"{where}: the upload belongs to another key", code="NoSuchUpload")
        return record.parent, data

    def _root_ok(self) -> bool:
        """Raise if the root folder is missing (an unmounted disk); see the module docstring."""
        if not self.root.is_dir():
            raise FileNotFoundError(errno.ENOENT, "uplink folder missing", str(self.root))
        return True

    def _temp_path(self) -> Path:
        """A fresh name in ``.tmp/``, on the same filesystem as the objects so links work."""
        self._root_ok()
        return localfs.temp_path(self.root)

    def _upload_dir(self, upload_id: str) -> Path:
        return self.root / MULTIPART / (upload_id if _UPLOAD_ID.fullmatch(upload_id) else "_")

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _where(self, op: str, key: str) -> str:
        return f"{op} {key!r} in {self.root}"

    def _ensure_dir(self, path: Path) -> Path:
        """Create ``path`` below the root, never the root itself (see the module docstring)."""
        self._root_ok()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _write_atomic(self, path: Path, data: bytes) -> None:
        """Replace ``path`` with ``data`` via a fsynced temp file and ``os.replace``."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        localfs.write_file(tmp, data)
        os.replace(tmp, path)
        localfs.fsync_dir(path.parent)

    def _guard(self, where: str, fn: Callable[[], T]) -> T:
        """Run ``fn``, translating OSError into the uplink error tree."""
        try:
            return fn()
        except UplinkError:
            raise
        except OSError as exc:
            raise _translate(exc, where, self.root) from exc


def _translate(exc: OSError, where: str, root: Path) -> UplinkError:
    """Permissions are a setup problem; anything else (missing mount, full disk) may pass."""
    if exc.errno in _PERMISSION:
        return UplinkMisconfigured(
            f"{where}: {exc.strerror}: give the agent write access to {root}", code="EACCES"
        )
    if not root.is_dir():
        return UplinkUnavailable(
            f"{where}: the folder {root} does not exist: is the disk mounted?", code="ENOENT"
        )
    code = errno.errorcode.get(exc.errno or 0, "OSError")
    return UplinkUnavailable(f"{where}: {exc}: will retry", code=code)


def _digests(data: bytes) -> tuple[str, str]:
    """A local part's ETag (its SHA-256 in hex) and its SHA-256 in base64."""
    digest = hashlib.sha256(data)
    return digest.hexdigest(), base64.b64encode(digest.digest()).decode("ascii")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_part(path: Path) -> Part:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return Part(int(path.name[5:]), etag=digest, sha256_b64=sha256_b64(data), size=len(data))


def _assemble(folder: Path, parts: Sequence[Part], dest: Path, where: str) -> str:
    """Write the parts in order into ``dest`` (fsynced); return the SHA-256 hex of it all.

    Each part is checked against its etag (its SHA-256) first, like S3's ``InvalidPart``.
    """
    whole = hashlib.sha256()
    with open(dest, "xb") as out:
        for part in parts:
            path = folder / f"part-{part.number:05d}"
            data = path.read_bytes() if path.is_file() else None
            if data is None or (part.etag, part.sha256_b64) != _digests(data):
                raise UploadGone(
                    f"{where}: part {part.number} is missing or differs from the one "
                    "uploaded; begin the upload again",
                    code="InvalidPart",
                )
            whole.update(data)
            out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return whole.hexdigest()
