"""`fieldagent process`: a JSON line per image; bad files rejected with a reason, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fieldagent.synth import SceneSpec, render, save_jpeg, series
from fieldagent.synth import shift as shift_image
from tests.support.photos import REAL


def _run(*args: str, cwd: Path | None = None) -> tuple[list[dict], str, int]:
    run = subprocess.run(
        [sys.executable, "-m", "fieldagent.cli", "process", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
    assert "Traceback" not in run.stderr, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    return lines, run.stderr, run.returncode


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("scenes")
    out = []
    for i in range(3):
        scene = render(SceneSpec(width=1200, height=900, seed=3, frame_seed=i))
        p = d / f"frame{i}.jpg"
        save_jpeg(scene.image, p, quality=90)
        out.append(p)
    return out


def _bad_files(d: Path, good: Path) -> dict[str, Path]:
    files = {
        "empty": d / "empty.jpg",
        "truncated": d / "truncated.jpg",
        "not_an_image": d / "notes.jpg",
        "too_large": d / "bomb.png",
        "unsupported_mode": d / "lab.tif",
        "missing": d / "gone.jpg",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good.read_bytes()[:3000])
    files["not_an_image"].write_text("not a picture")
    Image.new("1", (12000, 11000)).save(files["too_large"])
    Image.new("RGB", (64, 64)).convert("LAB").save(files["unsupported_mode"])
    return files


def test_every_bad_file_is_rejected_and_processing_goes_on(
    tmp_path: Path, scene_files: list[Path]
) -> None:
    bad = _bad_files(tmp_path, scene_files[0])
    args = [str(scene_files[0])] + [str(p) for p in bad.values()] + [str(scene_files[1])]
    lines, stderr, rc = _run(*args)
    assert rc == 0
    assert [line["image"] for line in lines] == args, "one line per image, in order"
    assert lines[0]["status"] == "ok" and lines[-1]["status"] == "ok"
    for line, (reason, _) in zip(lines[1:-1], bad.items(), strict=True):
        assert line["status"] == "rejected"
        expected = {"truncated": ("truncated", "corrupt")}.get(reason, (reason,))
        assert line["reason"] in expected, line
        assert line["message"]
    assert "rejected" in stderr


def test_output_shape(scene_files: list[Path], tmp_path: Path) -> None:
    lines, _, rc = _run(*map(str, scene_files[:2]), "--annotate", str(tmp_path / "ann"))
    assert rc == 0
    first = lines[0]
    assert first["status"] == "ok"
    assert set(first["quality"]) >= {"ok", "flags", "metrics"}
    assert isinstance(first["quality"]["ok"], bool)
    (roi,) = first["rois"]
    assert roi["id"] == "frame" and roi["trusted"] is True
    assert roi["signals"]["canopy_cover"] > 0.05
    assert roi["model"]["label"] in ("healthy", "chlorosis", "necrosis", "wilting")
    assert abs(sum(roi["model"]["probabilities"].values()) - 1) < 1e-3
    assert first["timings_ms"]["total"] > 0 and isinstance(first["alerts"], list)
    for p in scene_files[:2]:
        overlay = tmp_path / "ann" / f"{p.stem}.annotated.jpg"
        mask = tmp_path / "ann" / f"{p.stem}.mask.png"
        assert overlay.exists() and mask.exists()
        m = np.asarray(Image.open(mask))
        assert m.dtype == np.uint8 and 0.05 < (m > 0).mean() < 0.9


def test_a_frozen_camera_is_seen_across_the_sequence(
    tmp_path: Path, scene_files: list[Path]
) -> None:
    again = tmp_path / "again.jpg"
    again.write_bytes(scene_files[0].read_bytes())
    lines, _, _ = _run(str(scene_files[0]), str(again))
    flags = [f["name"] for f in lines[1]["quality"]["flags"]]
    assert "frozen" in flags and not lines[1]["quality"]["ok"]
    assert lines[1]["rois"][0]["trusted"] is False, "signals of a failed image are marked"


def test_a_moved_camera_is_seen_across_the_sequence(tmp_path: Path) -> None:
    scene = render(SceneSpec(width=1200, height=900, seed=4))
    paths = []
    for i, img in enumerate(
        [scene.image, render(SceneSpec(width=1200, height=900, seed=4, frame_seed=1)).image]
    ):
        p = tmp_path / f"m{i}.jpg"
        save_jpeg(img if i == 0 else shift_image(img, 90, 60), p)
        paths.append(str(p))
    lines, _, _ = _run(*paths)
    assert "moved" not in [f["name"] for f in lines[0]["quality"]["flags"]]
    moved = [f for f in lines[1]["quality"]["flags"] if f["name"] == "moved"]
    assert moved, lines[1]["quality"]


def test_config_with_grid_zones_and_alerts(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    spec = SceneSpec(width=1200, height=900, seed=5)
    frames = list(
        series(
            spec,
            frames=8,
            start=datetime(2026, 6, 1, 9, tzinfo=UTC),
            interval=timedelta(hours=1),
            stress_plan={5: ("chlorosis", 2)},
        )
    )
    box = frames[0].scene.grid_box
    cfg = tmp_path / "site.yaml"
    cfg.write_text(
        "cameras:\n  - id: bench\n    zones:\n"
        f"      - {{kind: grid, id: B, box: {list(box)}, rows: 3, cols: 4}}\n"
        "alerts:\n  rules:\n    - id: yellow\n"
        "      when: {signal: yellow_fraction, op: '>', value: 0.15}\n      for_images: 2\n"
    )
    paths = []
    for f in frames:
        p = tmp_path / f"b{f.index}.jpg"
        save_jpeg(f.image, p, timestamp=f.timestamp)
        paths.append(str(p))
    lines, stderr, rc = _run("--config", str(cfg), *paths)
    assert rc == 0, stderr
    assert len(lines[0]["rois"]) == 12
    raised = [a for line in lines for a in line["alerts"] if a["state"] == "raised"]
    assert raised and {a["zone"] for a in raised} == {"B-r2c2"}, raised
    assert raised[0]["why"]["signal"] == "yellow_fraction"


def test_bad_config_is_refused_before_any_image(tmp_path: Path, scene_files: list[Path]) -> None:
    cfg = tmp_path / "site.yaml"
    cfg.write_text("analysis: {max_side: 5}\n")
    lines, stderr, rc = _run("--config", str(cfg), str(scene_files[0]))
    assert rc == 2 and lines == []
    assert f"{cfg}: analysis.max_side: 5:" in stderr


def test_unknown_camera_is_refused(scene_files: list[Path]) -> None:
    _, stderr, rc = _run("--camera", "nope", str(scene_files[0]))
    assert rc == 2 and "no camera 'nope'" in stderr


@pytest.mark.skipif(not REAL.exists(), reason="shared real photos not present")
def test_nir_pair_gives_ndvi() -> None:
    lines, stderr, rc = _run(
        str(REAL / "plantcv_fusion_rgb.png"), "--nir", str(REAL / "plantcv_fusion_nir.png")
    )
    assert rc == 0, stderr
    ndvi = lines[0]["rois"][0]["signals"]["ndvi"]
    assert ndvi is not None and -1.0 <= ndvi <= 1.0


@pytest.mark.skipif(not REAL.exists(), reason="shared real photos not present")
def test_real_photos_process_cleanly() -> None:
    names = ["arabidopsis_tray.jpg", "leaves_16mp.jpg", "plantcv_multi_tray.jpg"]
    for name in names:
        (line,), stderr, rc = _run(str(REAL / name))
        assert rc == 0 and line["status"] == "ok", stderr
        assert line["quality"]["ok"] and line["quality"]["flags"] == [], (name, line["quality"])
        assert 0.02 < line["rois"][0]["signals"]["canopy_cover"] < 0.9, name


def test_independent_photos_carry_nothing_from_one_to_the_next() -> None:
    """Unrelated photos of one size: as a sequence later ones look moved and the
    whole-frame zone slides; with --independent each is judged on its own."""
    leaves = REAL / "leaves-pv"
    photos = [str(sorted((leaves / f"{crop}___healthy").iterdir())[i])
              for crop in ("tomato", "corn", "grape") for i in (0, 1)]
    as_sequence, _, rc = _run(*photos)
    assert rc == 0
    flags = [{f["name"] for f in line["quality"]["flags"]} for line in as_sequence]
    assert any("moved" in f for f in flags[1:]), flags  # what --independent is for
    lines, _, rc = _run(*photos, "--independent")
    assert rc == 0 and [line["status"] for line in lines] == ["ok"] * len(photos)
    for line in lines:
        names = {f["name"] for f in line["quality"]["flags"]}
        assert not names & {"moved", "frozen"}, (line["image"], names)
        assert line["quality"]["shift_px"] in (None, [0, 0], [0.0, 0.0]), line["quality"]
        (roi,) = line["rois"]
        assert roi["bbox"] == [0.0, 0.0, 1.0, 1.0]
        assert roi["signals"].get("stress_score") is None  # no baseline from another photo
