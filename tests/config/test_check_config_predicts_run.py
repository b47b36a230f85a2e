"""``check-config`` predicts ``run``: on a corpus of broken site configs both refuse, with
the same problems (file, key, value, reason, line), reported in one pass; on a good one
both go ahead."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from fieldagent.cli import main

CAMERA = {"id": "cam1", "source": {"kind": "inbox", "path": "inbox/cam1"}}


def _site(**extra: object) -> dict:
    return {"site": {"id": "gh1"}, "cameras": [CAMERA], "uplink": {"target": "file://cloud"},
            "data_dir": "data", **extra}


def _secrets(mode: int, text: str = "s3: {access_key_id: a, secret_access_key: b}\n"
             ) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / "secrets.yaml").write_text(text)
        (folder / "secrets.yaml").chmod(mode)
    return make


def _cloud(folder: Path) -> None:
    (folder / "cloud").mkdir()


HTTP_CAM = {"id": "cam2", "source": {"kind": "http", "url": "http://192.0.2.10/snap.jpg",
                                     "secret": "cam2"}}
BOWTIE = {"id": "cam1", "source": CAMERA["source"],
          "zones": [{"kind": "polygon", "id": "bed", "points": [[0, 0], [1, 1], [1, 0], [0, 1]]}]}
CORPUS: dict[str, tuple[dict, list[Callable[[Path], None]], list[str]]] = {
    "inbox-cannot-be-created": (  # 'inbox' is a file: its folder cannot be made
        _site(), [_cloud, lambda f: (f / "inbox").write_text("not a folder")],
        ["cameras[0].source.path:", "/inbox/cam1': does not exist and user"]),
    "secrets-file-missing": (
        _site(secrets_file="secrets.yaml"), [_cloud],
        ["secrets_file: 'secrets.yaml'", "the secrets file does not exist"]),
    "secrets-file-open-to-others": (
        _site(secrets_file="secrets.yaml"), [_cloud, _secrets(0o644)], ["chmod 600"]),
    "camera-secret-absent": (
        _site(secrets_file="secrets.yaml", cameras=[CAMERA, HTTP_CAM]),
        [_cloud, _secrets(0o600)],
        ["cameras[1].source.secret: 'cam2': no entry 'cam2' in the secrets file"]),
    "uplink-folder-missing": (
        _site(), [], ["uplink.target: 'file://cloud': the folder", "does not exist"]),
    "bow-tie-zone": (
        _site(cameras=[BOWTIE]), [_cloud], ["cross themselves", "(line "]),
    "policy-typo-and-key-typo": (
        {**_site(policy="metered-celular"),
         "cameras": [{"id": "cam1", "source": {"kind": "inbox", "path": "inbox/cam1",
                                               "setle_seconds": 3}}]},
        [_cloud], ["did you mean 'metered-cellular'?", "did you mean 'settle_seconds'?"]),
    "no-camera-health-rule": (
        _site(alerts={"replace_defaults": True, "rules": [
            {"id": "y", "when": {"signal": "yellow_fraction", "op": ">", "value": 0.2}}]}),
        [_cloud], ["no alert on camera health"]),
    "signal-typo": (
        _site(alerts={"rules": [{"id": "y", "when": {"signal": "yelow_fraction", "op": ">",
                                                     "value": 0.2}}]}),
        [_cloud], ["did you mean 'yellow_fraction'?"]),
    "zone-glob-matches-nothing": (
        _site(alerts={"rules": [{"id": "f", "zones": ["B-*"], "when": {"flag": "fog"}}]}),
        [_cloud], ["alerts.rules[0].zones[0]: 'B-*': no zone", "(line "]),
}


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """``main`` configures the root logger for a process; give this worker's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _write(folder: Path, doc: dict, setup: list[Callable[[Path], None]]) -> Path:
    folder.mkdir(parents=True)
    for make in setup:
        make(folder)
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_check_config_and_run_refuse_the_same_broken_config(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, setup, expected = CORPUS[name]
    config = _write(tmp_path / name, doc, setup)
    assert main(["check-config", str(config)]) == 1
    checked = capsys.readouterr().out.strip().splitlines()
    assert main(["run", "--config", str(config)]) == 2
    refused = capsys.readouterr().err
    assert checked, "check-config printed no problem"
    for line in checked:
        assert line.startswith(f"{config}: ") or not line.startswith("/"), line
        assert line in refused, f"run did not report: {line}"
    text = "\n".join(checked)
    for fragment in expected:
        assert fragment in text, text
    assert not (tmp_path / name / "data").exists(), "run started before refusing"


def test_a_good_config_passes_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(tmp_path / "good", _site(secrets_file="secrets.yaml"),
                    [_cloud, _secrets(0o600)])
    assert main(["check-config", str(config)]) == 0
    assert "ok (1 camera(s), site gh1)" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--drain", "--drain-seconds", "120"]) == 0
    assert (tmp_path / "good" / "data" / "state.json").is_file()
