"""Fixtures for model updates: signing keys, model folders, a channel, a simulated clock."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudjobs.release.channel import ChannelWriter
from cloudjobs.release.publish import ReleaseOptions, publish_release
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.session import packaged_model_dir
from fieldagent.modelupdate.channel import open_channel
from fieldagent.modelupdate.health import DeviceLimits
from fieldagent.modelupdate.signing import trusted_keys
from fieldagent.modelupdate.store import ModelStore
from fieldagent.modelupdate.updater import ModelUpdater, model_loader
from fieldcontract.manifest import HealthSettings, ReleaseManifest
from tests.support.clock import SimClock
from tests.support.seaweed import SeaweedS3, run_seaweed

START = datetime(2025, 5, 1, 6, 0, tzinfo=UTC)
LIMITS = DeviceLimits(window_seconds=600.0, max_error_rate=0.1, max_boots=2)
HEALTH = HealthSettings(window_seconds=60.0, max_error_rate=0.2, max_p95_latency_ms=50.0,
                        min_samples=5)


def make_model(folder: Path, version: str, *, name: str = "stress",
               classes: list[str] | None = None) -> Path:
    """A copy of the packaged model with another version (and name or class order)."""
    shutil.copytree(packaged_model_dir(), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(version=version, name=name)
    if classes is not None:
        manifest["classes"] = classes
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def release_options(**changes: Any) -> ReleaseOptions:
    """Everything at 100 %, short trials, a budget any CPU meets."""
    base: dict[str, Any] = {"percent": 100.0, "expires_in": timedelta(days=30),
                            "latency_budget_ms": 1000.0, "health": HEALTH}
    return ReleaseOptions(**{**base, **changes})


@dataclass
class Setup:
    """One device and one local channel, with the cloud's signing key at hand."""

    tmp: Path
    key: Ed25519PrivateKey
    clock: SimClock
    channel_dir: Path
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def channel_url(self) -> str:
        return f"file://{self.channel_dir}"

    @property
    def store_root(self) -> Path:
        return self.tmp / "device" / "models"

    def writer(self) -> ChannelWriter:
        return ChannelWriter.open(self.channel_url)

    def model(self, version: str, **kwargs: Any) -> Path:
        return make_model(self.tmp / f"model-{uuid.uuid4().hex[:8]}", version, **kwargs)

    def publish(self, version: str, *, golden: bytes | None = None,
                key: Ed25519PrivateKey | None = None, **options: Any) -> ReleaseManifest:
        return publish_release(self.writer(), key or self.key, self.model(version),
                               release_options(**options), self.clock(), golden)

    def updater(self, store: ModelStore | None = None, **kwargs: Any) -> ModelUpdater:
        store = store or ModelStore.open(self.store_root)
        args: dict[str, Any] = {
            "site": "site-a", "device": "dev-1", "agent_version": "0.1.0",
            "clock": self.clock, "report": self.reports.append,
            "load": model_loader(ModelConfig(warmup_runs=0)), "limits": LIMITS,
        }
        args.update(kwargs)
        reader = args.pop("reader", None) or open_channel(self.channel_url)
        trusted = args.pop("trusted", None) or trusted_keys([self.key.public_key()])
        return ModelUpdater(reader, trusted, store, **args)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.reports if event is None or r["event"] == event]


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def setup(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Setup:
    channel = tmp_path / "channel"
    channel.mkdir()
    return Setup(tmp_path, signing_key, SimClock(START), channel)


@pytest.fixture(scope="session")
def release_s3() -> Iterator[SeaweedS3]:
    """A real S3 server (SeaweedFS) on loopback for this folder's S3 tests."""
    with run_seaweed() as server:
        yield server
