"""``cloudjobs analyse`` on the command line, and the crop mapping file it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudjobs.analysis.cli import main
from cloudjobs.analysis.crops import load_crop_map
from cloudjobs.analysis.errors import AnalysisInputError
from tests.cloudjobs_analysis.conftest import read_dataset
from tests.cloudjobs_analysis.curated import Planted


def test_analyse_writes_the_datasets_and_prints_findings(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crops = tmp_path / "crops.yaml"
    crops.write_text("north: tomato\nsouth: tomato\neast: tomato\nwest: tomato\n")
    code = main(["--lake", str(planted.root), "--until", planted.until.isoformat(),
                 "--now", planted.now.isoformat(), "--crops", str(crops), "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "analysed 4 sites, 2024-06-15 .. 2024-06-28" in out  # 14 days by default
    assert "north/cam1/bench-a" in out and "south/cam1" in out and "east: silent" in out
    trends = read_dataset(planted.root, "analysis_zone_trends")
    assert set(trends.column("crop").to_pylist()) == {"tomato"}


def test_analyse_errors_speak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake", str(tmp_path / "missing"), "--workers", "1"]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--lake", str(tmp_path), "--since", "last week"])
    assert exc.value.code == 2
    assert "not a date like 2024-06-28" in capsys.readouterr().err


def test_crop_map_file(tmp_path: Path) -> None:
    path = tmp_path / "crops.yaml"
    path.write_text("north: tomato\nsouth:\n  '*': tomato\n  cam2/bench-b: cucumber\n"
                    "  bench-c: lettuce\n")
    crops = load_crop_map(path)
    assert crops.crop_of("north", "cam9", "any") == "tomato"
    assert crops.crop_of("south", "cam2", "bench-b") == "cucumber"
    assert crops.crop_of("south", "cam1", "bench-b") == "tomato"
    assert crops.crop_of("south", "cam1", "bench-c") == "lettuce"
    assert crops.crop_of("west", "cam1", "bench-a") is None
    path.write_text("north: [tomato]\n")
    with pytest.raises(AnalysisInputError, match="north"):
        load_crop_map(path)
    path.write_text("- tomato\n")
    with pytest.raises(AnalysisInputError, match="expected a mapping"):
        load_crop_map(path)
