"""The model manifest: what a model folder holds and the sha256 that proves it is intact.

``manifest.json`` is written by ``cloudjobs train-bootstrap``. The agent reads only the
fields it needs to run the model; the rest (training seeds, metrics) is there for people.
Its file entries (``FileEntry``) are the contract's (``fieldcontract.manifest``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldagent.inference.abstain import Abstention
from fieldagent.inference.errors import ModelError
from fieldcontract.manifest import MODEL_MANIFEST, FileEntry, sha256_of

RETRAIN = "re-run `cloudjobs train-bootstrap --out {folder}` or reinstall fieldagent"


@dataclass(frozen=True)
class Manifest:
    """The fields of ``manifest.json`` the runtime relies on."""

    name: str
    version: str
    classes: tuple[str, ...]
    input_size: int
    default_variant: str
    files: dict[str, FileEntry]
    # Optional, newer fields; a manifest without them gives the old behaviour minus trust:
    # raw softmax (temperature 1), no abstention, and no overriding of the colour signals.
    temperature: float = 1.0
    abstain: Abstention | None = None
    overrides_colour_signals: bool = False

    def pick_variant(self, wanted: str) -> str:
        """``auto`` means the manifest's default (INT8 when it passed the trainer's gate)."""
        if wanted == "auto":
            if self.default_variant in self.files:
                return self.default_variant
            return "int8" if "int8" in self.files else "fp32"
        if wanted not in self.files:
            raise ModelError(f"model variant {wanted!r} is not in this model's manifest "
                             f"(it has {sorted(self.files)}); set model.variant to 'auto'")
        return wanted


def read_manifest(folder: Path) -> Manifest:
    """Parse ``folder/manifest.json``; any problem is a ``ModelError`` saying what to do."""
    path = folder / MODEL_MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: model manifest not found; point model.path at a folder "
                         f"with manifest.json or {RETRAIN.format(folder=folder)}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: model manifest is unreadable ({exc}); "
                         f"{RETRAIN.format(folder=folder)}") from None
    try:
        return _parse(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: model manifest is incomplete or malformed "
                         f"(problem with {exc}); {RETRAIN.format(folder=folder)}") from None


def _parse(raw: dict[str, Any]) -> Manifest:
    files = {k: FileEntry(str(v["file"]), str(v["sha256"]), int(v["bytes"]))
             for k, v in raw["files"].items()}
    if not files:
        raise ValueError("'files' is empty")
    temperature = float(raw.get("temperature", 1.0))
    if not temperature > 0:
        raise ValueError(f"'temperature' {temperature} must be positive")
    classes = tuple(str(c) for c in raw["classes"])
    abstain = Abstention.from_dict(raw["abstain"]) if raw.get("abstain") else None
    if abstain is not None and len(abstain.class_means) != len(classes):
        raise ValueError(f"'abstain' has {len(abstain.class_means)} class means for "
                         f"{len(classes)} classes")
    return Manifest(
        name=str(raw["name"]), version=str(raw["version"]),
        classes=classes, input_size=int(raw["input_size"]),
        default_variant=str(raw.get("default_variant", "int8")), files=files,
        temperature=temperature, abstain=abstain,
        overrides_colour_signals=raw.get("overrides_colour_signals") is True,
    )


def verified_bytes(path: Path, expected_sha256: str) -> bytes:
    """The file's bytes, after checking them against the manifest's sha256."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file is missing although manifest.json lists it; "
                         f"{RETRAIN.format(folder=path.parent)}") from None
    except OSError as exc:
        raise ModelError(f"{path}: model file cannot be read ({exc.strerror}); check its "
                         "permissions or reinstall fieldagent") from None
    actual = sha256_of(data)
    if actual != expected_sha256:
        raise ModelError(f"{path}: model file is corrupt or was replaced: its sha256 is "
                         f"{actual[:12]}... but manifest.json says {expected_sha256[:12]}...; "
                         f"{RETRAIN.format(folder=path.parent)}")
    return data
