"""The release manifest: what a model release is, where its files are, how to roll it out.

A channel (a folder or an S3 prefix) looks like this::

    manifest.json                              the latest release (canonical JSON)
    manifest.json.sig                          its Ed25519 signature (``Signature`` below)
    models/<name>/<version>/manifest.json      the model folder's own manifest (``FileEntry``)
    models/<name>/<version>/stress.int8.onnx   ... one object per file of the model folder
    models/<name>/<version>/golden.npz         golden vectors (fieldagent.modelupdate.golden)

Artifacts are written once (create-only) under keys that contain the version, so a
release can never change under a device that is downloading it; only ``manifest.json``
and its signature are replaced, e.g. to widen the rollout or halt it.

Versions are PEP 440 (``packaging.version``): ``0.2.0`` > ``0.1.0+synth.a3a67ad9`` >
``0.1.0``, and a pre-release such as ``0.2.0rc1`` sorts before ``0.2.0``.

The cloud signs the exact bytes of ``manifest.json``; the device verifies those bytes before
it parses a single field, so nothing in an unverified manifest can steer it. A signature
names its key by ``key_id`` (first 16 hex digits of the SHA-256 of the raw 32-byte Ed25519
public key). The signature document (``manifest.json.sig``) is small canonical JSON::

    {"algorithm": "ed25519", "key_id": "3f2a...", "signature": "<base64>"}

Signing and verifying (``fieldagent.modelupdate.signing``) need a cryptography library; the
formats here need none.

Unlike the rest of the contract this module uses pydantic and packaging (both already in the
device install): the manifest was a pydantic model before it moved here, and its
``model_dump(mode="json")`` defines the bytes every published release was signed over, so a
rewrite could only risk changing them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fieldcontract.errors import ContractError

SCHEMA_VERSION = 1
MANIFEST_KEY = "manifest.json"
SIGNATURE_KEY = "manifest.json.sig"
MODEL_MANIFEST = "manifest.json"
GOLDEN_FILE = "golden.npz"
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
ALGORITHM = "ed25519"


class ManifestInvalid(ContractError):
    """A release manifest or its signature document does not follow the format.

    ``reason`` is the code the device reports: ``malformed``, ``unsupported_schema``,
    ``unsigned`` or ``bad_signature``; the message says what happened and what to do.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def parse_version(text: str) -> Version:
    """A PEP 440 version, or ``ValueError`` saying what a version looks like."""
    try:
        return Version(text)
    except InvalidVersion:
        raise ValueError(f"version {text!r} is not a PEP 440 version such as 0.2.0, "
                         "0.2.0rc1 or 0.2.0+synth.a3a67ad9") from None


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same object always gives the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class FileEntry:
    """One file of a model folder as its own ``manifest.json`` lists it (``files.<variant>``):
    the trainer writes it, the device checks the file against it before loading."""

    file: str
    sha256: str
    bytes: int


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of bytes, as manifests record it."""
    return hashlib.sha256(data).hexdigest()


def file_entry(path: Path) -> FileEntry:
    """The manifest entry of a file as it is on disk now (used by the trainer)."""
    data = path.read_bytes()
    return FileEntry(file=path.name, sha256=sha256_of(data), bytes=len(data))


def release_prefix(name: str, version: str) -> str:
    """Where one release's files live in the channel (immutable)."""
    return f"models/{name}/{version}"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRef(_Record):
    """One object in the channel with the size and SHA-256 the device checks it against."""

    key: str = Field(..., min_length=1, max_length=1024, description="object key in the channel")
    size: int = Field(..., ge=0, le=2_000_000_000, description="bytes")
    sha256: str = Field(..., description="hex SHA-256 of the object")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _HEX64.fullmatch(value):
            raise ValueError("must be 64 lower-case hex digits")
        return value


class Artifact(FileRef):
    """One file of the model folder."""

    file: str = Field(..., description="file name inside the model folder")

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _FILE.fullmatch(value):
            raise ValueError("must be a plain file name (no folders, no leading dot)")
        return value


class Golden(FileRef):
    """The golden vectors (inputs, expected outputs and tolerance, see golden.py)."""


class Rollout(_Record):
    """Which share of the fleet takes this release (see rollout.py)."""

    percent: float = Field(..., ge=0.0, le=100.0, description="share of devices, 0 = halted")
    salt: str = Field(..., min_length=8, max_length=64,
                      description="mixes the device buckets; kept when the percent changes")


class HealthSettings(_Record):
    """How a device judges the release during its trial (the device may be stricter)."""

    window_seconds: float = Field(3600.0, ge=60.0, le=30 * 86400.0,
                                  description="trial length before commit")
    max_error_rate: float = Field(0.05, ge=0.0, le=1.0,
                                  description="inference errors / runs above this roll back")
    max_p95_latency_ms: float = Field(250.0, gt=0.0, le=60_000.0,
                                      description="95th percentile run time above this rolls back")
    min_samples: int = Field(20, ge=1, le=1_000_000,
                             description="runs needed before the trial can be judged")


class ReleaseManifest(_Record):
    """The signed description of one release. Unknown fields are refused."""

    schema_version: Literal[1] = Field(1, description="manifest schema version")
    name: str = Field(..., description="model name (the model manifest's 'name')")
    version: str = Field(..., description="PEP 440 version (the model manifest's 'version')")
    created_at: datetime = Field(..., description="when this manifest was published")
    expires_at: datetime = Field(..., description="devices refuse the manifest after this")
    artifacts: list[Artifact] = Field(..., min_length=1, description="the model folder's files")
    golden: Golden = Field(..., description="golden vectors every device checks")
    rollout: Rollout = Field(..., description="staged rollout")
    min_agent_version: str | None = Field(None, description="oldest agent that may run it")
    latency_budget_ms: float = Field(..., gt=0.0, le=60_000.0,
                                     description="median single-crop run time allowed at install")
    health: HealthSettings = Field(default_factory=HealthSettings, description="trial limits")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("use 1-64 lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("version", "min_agent_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_version(value))

    @field_validator("created_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("needs a time zone (e.g. 2025-05-01T12:00:00Z)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseManifest:
        files = [a.file for a in self.artifacts]
        if len(set(files)) != len(files):
            raise ValueError(f"artifacts list a file twice: {files}")
        if MODEL_MANIFEST not in files:
            raise ValueError(f"artifacts must include the model folder's {MODEL_MANIFEST}")
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")
        return self

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    def to_bytes(self) -> bytes:
        """The canonical bytes that are stored as ``manifest.json`` and signed."""
        return canonical_json(self.model_dump(mode="json"))


def parse_manifest(raw: bytes) -> ReleaseManifest:
    """Parse verified manifest bytes; problems are ``ManifestInvalid`` (malformed, schema)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalid("malformed", f"manifest.json is not JSON ({exc}); re-publish "
                               "the release with `cloudjobs release`") from None
    if not isinstance(data, dict):
        raise ManifestInvalid("malformed", "manifest.json is not a JSON object; re-publish "
                               "the release with `cloudjobs release`")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ManifestInvalid(
            "unsupported_schema", f"manifest schema_version {data.get('schema_version')!r} is "
            f"not {SCHEMA_VERSION}, the one this agent reads: upgrade the agent first")
    try:
        return ReleaseManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}"
                             for e in exc.errors())
        raise ManifestInvalid("malformed", f"manifest.json is invalid: {problems}; fix the "
                               "publisher and re-publish") from None


def key_id(raw_public_key: bytes) -> str:
    """The id a signature names its key by: first 16 hex digits of the SHA-256 of the raw
    32-byte public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


@dataclass(frozen=True)
class Signature:
    """One signature over a payload, naming the key that made it."""

    key_id: str
    signature: bytes
    algorithm: str = ALGORITHM

    def to_bytes(self) -> bytes:
        """The ``.sig`` file's content (canonical JSON)."""
        doc = {
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Signature:
        """Parse a ``.sig`` file; missing or empty is ``unsigned``, garbage ``bad_signature``."""
        if not raw or not raw.strip():
            raise ManifestInvalid(
                "unsigned", "the release manifest has no signature (manifest.json.sig is "
                "missing or empty); publish it with `cloudjobs release`, which signs it")
        try:
            doc: Any = json.loads(raw)
            sig = cls(key_id=str(doc["key_id"]), algorithm=str(doc["algorithm"]),
                      signature=base64.b64decode(doc["signature"], validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ManifestInvalid(
                "bad_signature", f"manifest.json.sig is not a signature document ({exc}); "
                "re-publish the release with `cloudjobs release`") from None
        if sig.algorithm != ALGORITHM:
            raise ManifestInvalid(
                "bad_signature", f"the manifest is signed with {sig.algorithm!r}; this agent "
                f"only accepts {ALGORITHM!r} signatures")
        return sig
