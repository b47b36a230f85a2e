"""The ``model_updates`` section of the site config, and what the agent builds from it."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, model_validator

from fieldagent.config.base import Section
from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError
from fieldagent.modelupdate.channel import ChannelReader, open_channel
from fieldagent.modelupdate.health import DeviceLimits
from fieldagent.modelupdate.signing import RAW_KEY_BYTES, load_public_key, trusted_keys
from fieldcontract.keys import check_name

_S3_FIELDS = ("access_key_id", "secret_access_key", "session_token")


class ModelUpdateConfig(Section):
    """Signed model updates from a channel, staged by percent, rolled back when unhealthy."""

    enabled: bool = Field(False, description="poll the channel and install new models")
    channel: str | None = Field(
        None, pattern=r"^(file|s3)://",
        description="file://FOLDER (relative to the config file's folder) or "
        "s3://BUCKET/PREFIX holding manifest.json and manifest.json.sig",
    )
    endpoint_url: str | None = Field(None, description="S3 endpoint (for non-AWS S3)")
    region: str | None = Field(None, description="S3 region")
    secret: str | None = Field(
        None, description="secrets entry with access_key_id/secret_access_key for the channel"
    )
    poll_interval_seconds: float = Field(
        3600.0, ge=60.0, le=7 * 86400.0, description="how often to look for a new release"
    )
    trusted_keys: list[str] = Field(
        default_factory=list,
        description="public keys that may sign releases: PEM file paths (relative to the "
        "config file) or inline base64 raw keys, as `cloudjobs keys show` prints them",
    )
    device: str | None = Field(
        None, description="device id for the rollout bucket; empty = the site's device id"
    )
    health_window_seconds: float = Field(
        3600.0, ge=60.0, le=30 * 86400.0,
        description="a new model runs on trial this long before it is committed",
    )
    max_error_rate: float = Field(
        0.05, ge=0.0, le=1.0, description="failed inference runs / runs above this roll back"
    )
    max_boots: int = Field(
        3, ge=1, le=100, description="agent starts during a trial above this roll back"
    )
    keep_slots: int = Field(3, ge=2, le=20, description="model versions kept on disk")

    @model_validator(mode="after")
    def _complete(self) -> ModelUpdateConfig:
        if self.device is not None:
            check_name("device id", self.device)
        if self.enabled and not self.channel:
            raise ValueError("model updates are enabled but no channel is set")
        if self.enabled and not self.trusted_keys:
            raise ValueError("model updates are enabled but no trusted_keys are set: the "
                             "device would accept no release")
        return self


def is_inline_key(entry: str) -> bool:
    """An entry that is the base64 of 32 raw bytes is a key, anything else a file path."""
    try:
        return len(base64.b64decode(entry.strip(), validate=True)) == RAW_KEY_BYTES
    except binascii.Error:
        return False


def load_trusted_keys(config: ModelUpdateConfig, relative_to: Path,
                      source: str = "model_updates") -> dict[str, Ed25519PublicKey]:
    """The pinned keys by key id; every unusable entry is reported as a ``ConfigError``."""
    keys, problems = [], []
    for i, entry in enumerate(config.trusted_keys):
        where = f"{source}.trusted_keys[{i}]: {entry!r}"
        try:
            if is_inline_key(entry):
                keys.append(load_public_key(entry))
                continue
            path = Path(entry).expanduser()
            path = path if path.is_absolute() else relative_to / path
            keys.append(load_public_key(path.read_bytes()))
        except OSError as exc:
            problems.append(f"{where}: cannot read the key file ({exc.strerror})")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise ConfigError(problems)
    return trusted_keys(keys)


def open_channel_from_config(config: ModelUpdateConfig, secrets: SecretStore,
                             relative_to: Path) -> ChannelReader:
    """The channel reader, with S3 credentials from the named secrets entry if any.

    A relative ``file://`` channel is taken relative to ``relative_to`` (the config
    file's folder), like every other path in the site config.
    """
    if not config.channel:
        raise ConfigError(["model_updates.channel: None: set the channel to read releases "
                           "from"])
    url, credentials = config.channel, None
    if url.startswith("file://") and not url.startswith("file:///"):
        url = "file://" + str((relative_to / url[len("file://"):]).resolve())
    if config.secret:
        entry = secrets.get(config.secret)
        credentials = {k: v for k, v in entry.items() if k in _S3_FIELDS}
    return open_channel(url, endpoint_url=config.endpoint_url, region=config.region,
                        credentials=credentials)


def device_id(config: ModelUpdateConfig, site_device: str) -> str:
    """The device id for the rollout: this section's ``device`` if set, else the site's."""
    return config.device or site_device


def device_limits(config: ModelUpdateConfig) -> DeviceLimits:
    """The site's trial limits."""
    return DeviceLimits(window_seconds=config.health_window_seconds,
                        max_error_rate=config.max_error_rate, max_boots=config.max_boots)
