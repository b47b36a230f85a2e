"""The model card: what a trained model is, what it was trained on, how well it does.

``model_card.json`` is for tools (the release job, dashboards); ``model_card.md`` is the same
content for people, rendered from the JSON so the two cannot disagree. Both are written
whether the INT8 gate passed or not: a refused model's card says why.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cloudjobs import __version__
from cloudjobs.training.artifacts import sources_digest
from cloudjobs.training.dataset import (
    SPLIT_SALT,
    SYNTHETIC,
    TEST_FRACTION,
    UPLOADED,
    VAL_FRACTION,
    Dataset,
)

CARD_JSON, CARD_MD = "model_card.json", "model_card.md"
CARD_SCHEMA = 1


@dataclass(frozen=True)
class CardInputs:
    """Everything the card reports, gathered by the job."""

    version: str
    created: datetime
    lake: str
    labels_file: str
    labels_sha256: str
    dataset: Dataset
    training: dict[str, Any]
    quantization: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    gate: dict[str, Any]
    files: dict[str, dict[str, Any]]


def code_version() -> str:
    """``git describe`` of the checkout when there is one, else the package version, plus a
    hash of the training sources (it also covers uncommitted edits, which describe does not).
    """
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--tags"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    base = f"git {described}" if described else f"cloudjobs {__version__}"
    return f"{base} training-src {sources_digest()}"


def card_json(inputs: CardInputs, code: str) -> dict[str, Any]:
    """The card as a JSON-ready dict."""
    data = inputs.dataset
    return {
        "schema": CARD_SCHEMA,
        "name": "stress",
        "version": inputs.version,
        "status": "accepted" if inputs.gate["passed"] else "refused",
        "created": inputs.created.isoformat(),
        "code_version": code,
        "classes": list(data.classes),
        "labels": {"file": inputs.labels_file, "sha256": inputs.labels_sha256,
                   "allowed": [*data.classes, "skip"], "skipped": data.skipped},
        "data": {
            "lake": inputs.lake,
            "snapshot_sha256": data.snapshot_sha256(),
            "snapshot_method": "sha256 over sorted 'key<TAB>label<TAB>sha256(bytes)' lines "
                               "of the training set",
            "heldout_sha256": data.heldout_sha256(),
            "split": {"method": "sha256 of salt:key", "salt": SPLIT_SALT,
                      "test": TEST_FRACTION, "validation": VAL_FRACTION},
            "counts": {p.name: p.counts(data.classes) for p in (data.train, data.val, data.test)},
            "uploads_by_site": _by_site(data),
            "calibration": {s: sum(1 for i in data.calib.items if i.source == s)
                            for s in (UPLOADED, SYNTHETIC)},
            "unlabelled_images": data.unlabelled,
            "duplicates_dropped": list(data.duplicates),
        },
        "training": inputs.training,
        "quantization": inputs.quantization,
        "metrics": {"held_out": inputs.metrics},
        "gate": inputs.gate,
        "files": inputs.files,
    }


def _by_site(data: Dataset) -> dict[str, int]:
    sites: dict[str, int] = {}
    for part in (data.train, data.val, data.test):
        for item in part.items:
            if item.site is not None:
                sites[item.site] = sites.get(item.site, 0) + 1
    return dict(sorted(sites.items()))


def card_markdown(card: dict[str, Any]) -> str:
    """The card for people, from ``card_json``'s output."""
    data, metrics, gate = card["data"], card["metrics"]["held_out"], card["gate"]
    lines = [
        f"# Stress model {card['version']}",
        "",
        f"**Status: {card['status']}**" + (f": {gate['reason']}" if gate.get("reason") else ""),
        "",
        f"- Created: {card['created']}",
        f"- Code: {card['code_version']}",
        f"- Classes: {', '.join(card['classes'])}",
        f"- Data snapshot (training set): `{data['snapshot_sha256']}`",
        f"- Held-out snapshot (validation + test): `{data['heldout_sha256']}`",
        f"- Labels file: {card['labels']['file']} (`{card['labels']['sha256'][:16]}`), "
        f"{card['labels']['skipped']} keys skipped",
        f"- Lake: {data['lake']}; {data['unlabelled_images']} images not labelled yet",
        "",
        "## Data",
        "",
        *_counts_table(data["counts"], card["classes"]),
        "",
        f"Uploads by site: {_pairs(data['uploads_by_site']) or 'none'}. "
        f"INT8 calibration: {_pairs(data['calibration'])}. "
        f"Duplicates dropped: {len(data['duplicates_dropped'])}.",
        "",
        f"Split by `sha256({data['split']['salt']}:key)`: {data['split']['test']:.0%} test, "
        f"{data['split']['validation']:.0%} validation; a key never changes split.",
        "",
        "## Held-out evaluation (same set for both variants)",
        "",
        *_metrics_table(metrics, card["classes"]),
        "",
        f"Gate: INT8 may lose at most {gate['margin']:.4f} accuracy against FP32; "
        f"it lost {gate['drop']:.4f}: {'passed' if gate['passed'] else 'refused'}.",
        "",
        "## Training",
        "",
        f"- Config: {_pairs(card['training']['config'])}",
        f"- Best epoch {card['training']['best_epoch']}, validation accuracy "
        f"{card['training']['best_val_accuracy']:.4f}, {card['training']['parameters']} parameters",
        f"- Quantization: {_pairs(card['quantization'])}",
        "",
        "## Limits",
        "",
        "- Keys are split one by one: the same plant photographed on other days can be in "
        "training and test, which flatters test accuracy on uploads.",
        "- Generated crops are part of training and test; compare the per-source accuracies.",
        "",
        "## Files",
        "",
        *[f"- `{e['file']}`: {e['bytes']} bytes, sha256 `{e['sha256']}`"
          for e in card["files"].values()],
        "",
    ]
    return "\n".join(lines)


def _counts_table(counts: dict[str, dict[str, dict[str, int]]], classes: list[str]) -> list[str]:
    rows = ["| set | source | " + " | ".join(classes) + " | total |",
            "|---|---|" + "---:|" * (len(classes) + 1)]
    for part, by_source in counts.items():
        for source, per_class in by_source.items():
            values = [per_class[c] for c in classes]
            rows.append(f"| {part} | {source} | " + " | ".join(map(str, values))
                        + f" | {sum(values)} |")
    return rows


def _metrics_table(metrics: dict[str, dict[str, Any]], classes: list[str]) -> list[str]:
    variants = list(metrics)
    rows = ["| metric | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants)]

    def row(name: str, values: list[Any]) -> None:
        rows.append(f"| {name} | " + " | ".join(_fmt(v) for v in values) + " |")

    row("accuracy", [metrics[v]["accuracy"] for v in variants])
    for source in metrics[variants[0]]["by_source"]:
        row(f"accuracy ({source}, n={metrics[variants[0]]['by_source'][source]['n']})",
            [metrics[v]["by_source"][source]["accuracy"] for v in variants])
    for c in classes:
        row(f"recall {c}", [metrics[v]["recall"][c] for v in variants])
    row("ECE (10 bins)", [metrics[v]["ece_10_bins"] for v in variants])
    row("latency ms/crop (batch 1)", [metrics[v]["latency_ms_batch1"] for v in variants])
    row("size KiB", [round(metrics[v]["bytes"] / 1024, 1) for v in variants])
    row("held-out crops", [metrics[v]["n"] for v in variants])
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return str(round(value, 4)) if isinstance(value, float) else str(value)


def _pairs(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items())
