"""`fieldagent model predict`: the model's verdict on real photos through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from cloudjobs.training.probes import KINDS, non_plant_images, soil
from tests.support.photos import REAL

TRAY_ZONES = Path(__file__).resolve().parents[1] / "support" / "arabidopsis_tray.yaml"
LEAVES = REAL / "leaves-pv"
STRESS = ("chlorosis", "necrosis", "wilting")


def _run(*args: str) -> tuple[list[str], str, int]:
    run = subprocess.run([sys.executable, "-m", "fieldagent.cli", "model", "predict", *args],
                         capture_output=True, text=True, timeout=300)
    assert "Traceback" not in run.stderr, run.stderr
    return run.stdout.splitlines(), run.stderr, run.returncode


def test_each_pot_of_a_healthy_tray_gets_a_verdict_and_none_is_confidently_diseased() -> None:
    lines, _, code = _run(str(REAL / "arabidopsis_tray.jpg"), "--zones", str(TRAY_ZONES),
                          "--json")
    assert code == 0
    (record,) = [json.loads(line) for line in lines]
    zones = record["zones"]
    assert len(zones) == 20
    for z in zones:
        m = z["model"]
        assert not (m["label"] in STRESS and m["confidence"] >= 0.9), z
        assert z["colour"]["yellow_fraction"] is None or 0 <= z["colour"]["yellow_fraction"] <= 1
        if "probabilities" in m:
            assert abs(sum(m["probabilities"].values()) - 1) < 1e-3
            assert m["may_override"] is record["model_may_override_colour_signals"]


def test_bad_images_are_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    leaf = next((LEAVES / "grape___grape_black_rot").iterdir())
    lines, err, code = _run(str(broken), str(leaf), str(tmp_path / "missing.jpg"), "--json")
    assert code == 1
    records = [json.loads(line) for line in lines]
    assert [("error" in r) for r in records] == [True, False, True]
    assert "broken.jpg" in err and "missing.jpg" in err
    good = records[1]["zones"][0]
    assert good["zone"] == "image" and good["colour"]["colour_score"] is not None


def test_bare_soil_is_unknown_and_text_output_names_both_views(tmp_path: Path) -> None:
    path = tmp_path / "soil.png"
    Image.fromarray(soil(np.random.default_rng(4), 200)).save(path)
    leaf = next((LEAVES / "tomato___healthy").iterdir())
    lines, _, code = _run(str(path), str(leaf))
    assert code == 0
    text = "\n".join(lines)
    assert "image: model unknown (no plant found)" in text
    assert "colour yellow" in text and "may override colour signals" in text


def test_non_plant_images_are_unknown_through_the_agents_path(tmp_path: Path) -> None:
    """Noise, colour card, wall, bare soil and text: segmentation or the model abstains."""
    paths, kinds = [], []
    for i, (kind, img) in enumerate(non_plant_images(6, seed=8818, kinds=KINDS)):
        paths.append(str(tmp_path / f"{kind}{i}.png"))
        kinds.append(kind)
        Image.fromarray(img).save(paths[-1])
    lines, _, code = _run(*paths, "--json")
    assert code == 0
    models = [json.loads(line)["zones"][0]["model"] for line in lines]
    for kind in KINDS:
        labels = [m["label"] for m, k in zip(models, kinds, strict=True) if k == kind]
        assert labels.count("unknown") / len(labels) >= 0.75, (kind, labels)
    for m in models:
        assert not (m["label"] in STRESS and m.get("confidence", 0) >= 0.9), m


def test_help_names_the_options() -> None:
    lines, _, code = _run("--help")
    assert code == 0 and "--zones" in "\n".join(lines) and "--json" in "\n".join(lines)
