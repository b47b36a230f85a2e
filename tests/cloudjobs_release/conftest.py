"""Fixtures for the publisher: a model folder with a chosen version, a local channel."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fieldagent.inference.session import packaged_model_dir

ModelFactory = Callable[[str], Path]


@pytest.fixture
def make_model(tmp_path: Path) -> ModelFactory:
    """Copies of the packaged model with another version."""

    def make(version: str) -> Path:
        folder = tmp_path / f"model-{version}"
        shutil.copytree(packaged_model_dir(), folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["version"] = version
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return folder

    return make


@pytest.fixture
def channel_dir(tmp_path: Path) -> Path:
    return tmp_path / "channel"
