"""The shipped stress model's card: ``MODEL_CARD.md`` and ``reliability.png`` beside it.

Rendered from the manifest content ``train-bootstrap`` measured, so the card cannot claim
what was not measured: every figure below comes from that dict. No torch here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CARD_FILE, RELIABILITY_FILE = "MODEL_CARD.md", "reliability.png"


def write_card(folder: Path, m: dict[str, Any]) -> None:
    """Write the card and the reliability diagram for manifest content ``m`` into ``folder``."""
    (folder / CARD_FILE).write_text(card_markdown(m), encoding="utf-8")
    reliability_png(m["metrics"]["held_out_real"]["fp32"]["reliability_calibrated"],
                    folder / RELIABILITY_FILE)


def card_markdown(m: dict[str, Any]) -> str:
    """The card for people (Markdown)."""
    loco, real = m["metrics"]["leave_one_crop_out"], m["metrics"]["held_out_real"]
    data = m["training"]["data"]
    gate = m["colour_gate"]
    lines = [
        f"# Stress model {m['version']}",
        "",
        f"Classes: {', '.join(m['classes'])} (plus `unknown` when it abstains). Input "
        f"{m['input_size']} px RGB crops. {m['training']['parameters']:,} parameters; "
        f"INT8 {real['int8']['bytes'] / 1024:.0f} KiB, FP32 {real['fp32']['bytes'] / 1024:.0f} "
        "KiB. Trained by `cloudjobs train-bootstrap` (see `manifest.json` for every figure).",
        "",
        "## May it override the colour signals?",
        "",
        f"**{'Yes' if m['overrides_colour_signals'] else 'No'}** "
        f"(`overrides_colour_signals: {str(m['overrides_colour_signals']).lower()}`). "
        f"Rule: {gate['rule']}. Colour score: {gate['colour_score']}. When it may not, the "
        "agent reports the model's probabilities but never lets them fire alerts or colour "
        "a zone red.",
        "",
        "## Trained on",
        "",
        "* Real: PlantVillage leaf photos (Hughes & Salathé 2015, CC BY-SA 3.0; `leaves-pv`), "
        f"photos per split {data['real']['photos']}, by crop and class "
        f"{data['real']['by_crop_and_class']}; each training photo also as "
        f"{data['real']['greenhouse_views_per_photo']} greenhouse-style views (leaf cut out "
        "with the agent's own mask, put on generated soil / bench textures, rescaled, "
        "blurred, relit with colour-temperature shifts, JPEG).",
        "* Outlier exposure: generated colour fields, coloured shapes and bare benches, "
        "with a loss pulling the softmax towards uniform (Hendrycks et al. 2019), so the "
        "model learns that nothing it knows means no class.",
        "* Synthetic: crops from `fieldagent.synth` "
        f"({_synth(data['synthetic'])}); the only "
        "source of the `wilting` class.",
        "",
        "## Leave one crop out (train on two crops + synthetic, test on every photo of the third)",
        "",
        "| held-out crop | photos | AUC model | AUC colour | recall | ECE raw -> calibrated "
        "| abstained | non-plant abstained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for crop, r in loco.items():
        lines.append(f"| {crop} | {r['n']} | {r['auc_model']} | {r['auc_colour']} | "
                     f"{_recall(r['recall'])} | {r['ece_raw']} -> {r['ece_calibrated']} | "
                     f"{r['abstained']:.1%} | {r['non_plant_abstained']['all']:.0%} |")
    lines += [
        "",
        "AUC: healthy vs diseased, the model's `1 - p(healthy)` against yellow + brown "
        "fraction, on the same photos (lab photos of single leaves, not greenhouse views). "
        f"On a crop it has never seen, the model ranks at least as well as colour on: "
        f"{_crops(loco, True)}; worse on: {_crops(loco, False)}. Recall is of the top "
        "class (abstentions included); a held-out crop's disease is often named as the "
        "other disease (the ranking can be right while the class is wrong). \"raw\" ECE "
        "is before temperature scaling.",
        "",
        "## The shipped model on held-out real photos (all three crops, split by name hash)",
        "",
        "| variant | photos | accuracy | recall | AUC model | AUC colour | ECE raw -> "
        "calibrated | abstained | agreement with FP32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in real.items():
        lines.append(f"| {name} | {r['n']} | {r['accuracy']} | {_recall(r['recall'])} | "
                     f"{r['auc_model']} | {r['auc_colour']} | {r['ece_raw']} -> "
                     f"{r['ece_calibrated']} | {r['abstained']:.1%} | "
                     f"{r.get('agreement_with_fp32', '-')} |")
    torch_m = m["metrics"]["held_out_real_torch"]
    lines += [
        "",
        f"INT8 ships because it agrees with FP32 on {real['int8']['agreement_with_fp32']:.1%} "
        "of these photos and keeps its accuracy (the trainer refuses it otherwise).",
        "",
        "## Calibration",
        "",
        f"Temperature {m['temperature']}, fitted on the validation split only (real photos "
        "of the training crops and synthetic crops; never the test photos). It calibrates "
        "crops like the training data; on a crop never seen (the table above) the calibrated "
        "ECE can be worse than the raw one: validation is easier than a new crop. Reliability "
        "of the calibrated FP32 model on the held-out real photos (`reliability.png`):",
        "",
        "| confidence bin | photos | mean confidence | accuracy |",
        "|---|---|---|---|",
        *[f"| {r['bin'][0]:.1f}-{r['bin'][1]:.1f} | {r['n']} | {r['confidence']} | "
          f"{r['accuracy']} |" for r in real["fp32"]["reliability_calibrated"]],
        "",
        f"Share of calls at confidence >= 0.9: {torch_m['share_confidence_ge_0_9_raw']:.0%} "
        f"raw, {torch_m['share_confidence_ge_0_9_calibrated']:.0%} calibrated.",
        "",
        "## Abstention (`unknown`)",
        "",
        f"{m['abstain']['method']}; threshold {m['abstain']['ood_threshold']} = the "
        "99th percentile of that distance on the validation crops (so about 1 % of crops like "
        "the training data abstain). Also `unknown` when the calibrated top probability is "
        f"below {m['abstain']['min_confidence']} (the 2nd percentile of validation "
        "confidences, at least 0.45). Generated non-plant images (noise, colour "
        "card, plain wall, bare soil, text; not the generators used for outlier exposure) "
        "labelled `unknown` by the shipped model: "
        f"{_probes(torch_m['non_plant_abstained'])}; by the held-out-crop models: "
        + "; ".join(f"{c}: {_probes(r['non_plant_abstained'])}" for c, r in loco.items())
        + ". The model alone flags most colour cards and walls but not reliably noise, bare "
        "soil or text (the sharp temperature undoes part of what outlier exposure taught). "
        "The agent never asks it about a region where its own segmentation finds no plant "
        "(an empty zone in the pipeline, `unknown (no plant found)` in `fieldagent model "
        "predict`), and that is what catches those: the tests run every kind through the "
        "CLI.",
        "",
        "## What it has never seen",
        "",
        "* No real wilting: that class is learned from synthetic crops only; its recall on "
        "real plants is unmeasured.",
        "* No real greenhouse top views of diseased plants: real tissue comes from single "
        "detached leaves photographed in a lab; greenhouse views are re-staged from them.",
        "* Three crops and six conditions only (tomato yellow leaf curl for chlorosis; corn "
        "gray leaf spot and grape rots/measles/blight for necrosis). Other crops, nutrient "
        "deficiencies, pests, seedlings and rosettes (e.g. Arabidopsis) were never labelled.",
        "* No NIR, no night or grow-lamp-only frames beyond the colour-temperature shifts of "
        "augmentation.",
        "",
        "## Provenance",
        "",
        f"Code: {m['code_version']}. Training seconds: {m['training']['seconds']}. Seeds: "
        f"{m['training']['seeds']}.",
        "",
    ]
    return "\n".join(lines)


def reliability_png(rows: list[dict[str, Any]], path: Path) -> None:
    """The reliability diagram: accuracy against mean confidence per bin, with the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    ax.bar([r["bin"][0] + 0.05 for r in rows], [r["accuracy"] for r in rows], width=0.09,
           alpha=0.6, label="accuracy")
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-",
            color="black", label="mean confidence")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (calibrated)", ylabel="accuracy",
           title="held-out real leaves, FP32")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def _crops(loco: dict[str, dict[str, Any]], beats: bool) -> str:
    names = [c for c, r in loco.items() if (r["auc_model"] or 0) >= (r["auc_colour"] or 0)]
    chosen = names if beats else [c for c in loco if c not in names]
    return ", ".join(chosen) or "none"


def _synth(synthetic: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{k} {v['n']}" for k, v in synthetic.items())


def _recall(recall: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in recall.items())


def _probes(r: dict[str, float]) -> str:
    return f"{r['all']:.0%} (" + ", ".join(f"{k} {v:.0%}" for k, v in r.items()
                                           if k != "all") + ")"
