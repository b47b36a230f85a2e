"""Truth section for the stress model: is it right on real photos, beside the colour signals?

``model_section()`` measures the packaged model (no training) on the real leaves it did
not train on, with the agent's own runtime: its healthy-vs-diseased AUC per crop beside the
colour-only AUC (yellow + brown fraction inside the agent's plant mask), ECE of its
calibrated probabilities, the share of leaves it abstains on, and how often it says
``unknown`` for generated non-plant images, by itself and through the agent's path (its
segmentation finds no plant first, as ``fieldagent model predict`` does). It also prints
the leave-one-crop-out figures the trainer recorded in the manifest (models that never saw
the crop). Figures are printed, never asserted: the tests hold the bounds.

    python bench/bench_truth.py            (all sections)
    python -c "from bench.truth_model import model_section; model_section()"
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cloudjobs.training import leaves as lv
from cloudjobs.training.calibration import auc
from cloudjobs.training.evaluate import expected_calibration_error
from cloudjobs.training.probes import KINDS, non_plant_images
from fieldagent.decode import decode
from fieldagent.inference.abstain import UNKNOWN
from fieldagent.inference.config import ModelConfig
from fieldagent.inference.session import StressModel, packaged_model_dir
from fieldagent.modelupdate.predict import judge_image
from fieldagent.synth import MODEL_CLASSES
from fieldcontract.manifest import MODEL_MANIFEST

PROBE_SEED = 9909


def model_section(every: int = 1, probes_per_kind: int = 20) -> dict[str, Any]:
    """Measure and print; ``every`` > 1 uses every n-th held-out photo (a quick CI run)."""
    model = StressModel.load(ModelConfig())
    folder = lv.default_leaves_dir()
    photos = [p for p in lv.read_labels(folder) if lv.split_of(p.file) == "test"][::every]
    rgb = [lv.load_rgb(folder, p) for p in photos]
    outs = model.predict(rgb)
    probs = np.array([[o.probabilities[c] for c in MODEL_CLASSES] for o in outs])
    y = np.array([p.label for p in photos])
    colour = np.array([lv.colour_score(im) for im in rgb])
    crops = np.array([p.crop for p in photos])
    per_crop = {c: {"n": int((crops == c).sum()),
                    "auc_model": auc(1 - probs[crops == c, 0], y[crops == c] != 0),
                    "auc_colour": auc(colour[crops == c], y[crops == c] != 0)}
                for c in lv.CROPS}
    probes = non_plant_images(probes_per_kind, seed=PROBE_SEED)
    labels = np.array([o.label for o in model.predict([img for _, img in probes])])
    kinds = np.array([k for k, _ in probes])
    result = {
        "model": model.version,
        "may_override_colour_signals": model.overrides_colour_signals,
        "held_out_leaves": len(photos),
        "auc_by_crop": per_crop,
        "auc_all": {"model": auc(1 - probs[:, 0], y != 0), "colour": auc(colour, y != 0)},
        "ece_calibrated": expected_calibration_error(probs, y),
        "abstained_on_leaves": round(float(np.mean([o.label == UNKNOWN for o in outs])), 4),
        "abstained_on_non_plant_model_alone": {
            k: round(float((labels[kinds == k] == UNKNOWN).mean()), 3) for k in KINDS},
        "abstained_on_non_plant_agent_path": _agent_path(model, probes),
        "leave_one_crop_out_recorded": _loco(),
    }
    print("## stress model on real held-out leaves (packaged model)")
    print(json.dumps(result, indent=1))
    return result


def _agent_path(model: StressModel,
                probes: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    """Share ``unknown`` through ``model predict``'s path (segmentation first, then model)."""
    unknown: dict[str, list[bool]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (kind, img) in enumerate(probes):
            path = Path(tmp) / f"{i}.png"
            Image.fromarray(img).save(path)
            record = judge_image(model, decode(path), None, None)
            unknown.setdefault(kind, []).append(record["zones"][0]["model"]["label"] == UNKNOWN)
    return {k: round(float(np.mean(v)), 3) for k, v in unknown.items()}


def _loco() -> dict[str, Any]:
    """What the trainer measured with each crop held out, from the manifest."""
    raw = json.loads((packaged_model_dir() / MODEL_MANIFEST).read_text(encoding="utf-8"))
    loco = raw.get("metrics", {}).get("leave_one_crop_out", {})
    return {c: {k: m.get(k) for k in ("auc_model", "auc_colour", "ece_calibrated", "abstained")}
            for c, m in loco.items()}
