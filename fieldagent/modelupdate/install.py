"""Download a release into a staging folder and prove it works before it may run.

Every artifact is checked against the size and SHA-256 in the signed manifest before it is
written; then the model is loaded with onnxruntime (which checks the model folder's own
manifest again), run on the golden vectors, and timed. Any failure is a
``ManifestRejected`` and the staging folder is thrown away: the running model is never
touched until everything passed.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fieldagent.inference.errors import ModelError
from fieldagent.inference.manifest import read_manifest
from fieldagent.inference.session import StressModel
from fieldagent.modelupdate.channel import ChannelReader, is_missing
from fieldagent.modelupdate.errors import ManifestRejected
from fieldagent.modelupdate.golden import GoldenCheck, check_golden
from fieldagent.modelupdate.store import write_file
from fieldagent.uplink.errors import UplinkRejected
from fieldcontract.manifest import FileRef, ReleaseManifest

LATENCY_RUNS = 7  # the median of a few single-crop runs: one slow run does not refuse a model

ModelLoader = Callable[[Path | None], StressModel]


@dataclass(frozen=True)
class Validation:
    """What the checks measured on the candidate."""

    golden: GoldenCheck
    latency_ms: float
    variant: str

    def metrics(self) -> dict[str, float | int | str]:
        return {"golden_max_abs_diff": round(self.golden.max_abs_diff, 6),
                "latency_ms": round(self.latency_ms, 3), "variant": self.variant}


def download(reader: ChannelReader, release: ReleaseManifest, staging: Path) -> bytes:
    """Fetch and check every artifact into ``staging``; return the checked golden bytes.

    ``UplinkUnavailable`` passes through (try again at the next poll).
    """
    for artifact in release.artifacts:
        write_file(staging / artifact.file, fetch_checked(reader, artifact, artifact.file))
    return fetch_checked(reader, release.golden, "golden vectors")


def fetch_checked(reader: ChannelReader, ref: FileRef, what: str) -> bytes:
    """One object, refused unless its size and SHA-256 are those the manifest signed."""
    try:
        data = reader.get(ref.key)
    except UplinkRejected as exc:
        if not is_missing(exc):
            raise
        raise ManifestRejected("artifact_missing", f"{what} ({ref.key}) is not in the "
                               f"channel {reader.name}; re-publish the release") from None
    if len(data) != ref.size:
        raise ManifestRejected("artifact_corrupt", f"{what} ({ref.key}) has {len(data)} bytes, "
                               f"the signed manifest says {ref.size}; not installing it")
    digest = hashlib.sha256(data).hexdigest()
    if digest != ref.sha256:
        raise ManifestRejected(
            "artifact_corrupt", f"{what} ({ref.key}) has SHA-256 {digest[:12]}..., the "
            f"signed manifest says {ref.sha256[:12]}...: it is damaged or was replaced; "
            "not installing it")
    return data


def validate(staging: Path, release: ReleaseManifest, golden: bytes, load: ModelLoader,
             latency_budget_ms: float) -> Validation:
    """Load the staged model, check it against the golden vectors and the latency budget."""
    try:
        model_manifest = read_manifest(staging)
        if (model_manifest.name, model_manifest.version) != (release.name, release.version):
            raise ManifestRejected(
                "inconsistent", f"the model folder is {model_manifest.name} "
                f"{model_manifest.version} but the release says {release.name} "
                f"{release.version}; re-publish with `cloudjobs release`")
        model = load(staging)
    except ModelError as exc:
        raise ManifestRejected("load_failed", f"the model does not load: {exc}") from None
    checked = check_golden(model, golden)
    latency = measure_latency(model)
    if latency > latency_budget_ms:
        raise ManifestRejected(
            "too_slow", f"one crop takes {latency:.2f} ms on this device, over the release's "
            f"budget of {latency_budget_ms} ms; not installing it")
    return Validation(golden=checked, latency_ms=latency, variant=model.variant)


def measure_latency(model: StressModel, runs: int = LATENCY_RUNS) -> float:
    """Median milliseconds of a single-crop prediction (preprocessing included)."""
    crop = np.full((model.input_size, model.input_size, 3), 128, np.uint8)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict([crop])
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
