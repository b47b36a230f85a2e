"""The model folder both training commands write, in the format the agent loads.

    manifest.json      name, version, classes, input size, metrics, sha256 of each file
    stress.fp32.onnx   the exported network
    stress.int8.onnx   the statically quantized network (the default variant)

The manifest is written last and renamed into place: a reader that finds it can trust that
the files it lists are complete (``fieldagent.inference.manifest`` checks their sha256).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fieldagent.inference.preprocess import INPUT_SIZE
from fieldcontract.manifest import MODEL_MANIFEST, file_entry

FP32_FILE, INT8_FILE = "stress.fp32.onnx", "stress.int8.onnx"
MODEL_FILES = {"fp32": FP32_FILE, "int8": INT8_FILE}


def contract_fields(version: str, classes: tuple[str, ...]) -> dict[str, Any]:
    """The manifest fields the agent relies on (see docs/architecture.md, model contract)."""
    return {
        "name": "stress",
        "version": version,
        "classes": list(classes),
        "input_size": INPUT_SIZE,
        "input": {"name": "input", "layout": "NCHW", "range": [0.0, 1.0], "dtype": "float32"},
        "output": {"name": "logits", "softmax": "applied by the runtime"},
        "default_variant": "int8",
    }


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of each model file in ``folder``, keyed by variant."""
    return {variant: asdict(file_entry(folder / name)) for variant, name in MODEL_FILES.items()}


def write_manifest(work: Path, content: dict[str, Any]) -> None:
    """Add sha256 and size of each model file and write ``manifest.json``."""
    text = json.dumps({**content, "files": file_entries(work)}, indent=2) + "\n"
    (work / MODEL_MANIFEST).write_text(text, encoding="utf-8")


def publish(work: Path, out: Path,
            names: Iterable[str] = (FP32_FILE, INT8_FILE, MODEL_MANIFEST)) -> None:
    """Copy ``names`` from ``work`` into ``out`` in order, each through a temporary name.

    Callers list the manifest last (readers trust it last).
    """
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(work / name, out / f".{name}.tmp")
        (out / f".{name}.tmp").replace(out / name)


def sources_digest() -> str:
    """A short hash of the training package's sources: what made these weights."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:12]
