"""The light commands stay light, ``python -m fieldagent`` works, exit codes are as documented.

``--version``, ``--help`` and ``status`` run on a device next to the agent and in scripts:
they must not load the image or inference stack. Checked by the modules a child process
ends up with (behaviour), not by timing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fieldagent import __version__

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "site.yaml"
HEAVY = ("numpy", "scipy", "skimage", "onnxruntime", "PIL", "boto3", "botocore")

# Runs `python -m fieldagent ARGS` in this interpreter, then prints (as the last stdout
# line) which of the HEAVY top-level packages got imported, and the exit code.
PROBE = """
import json, runpy, sys
sys.argv = ["fieldagent", *json.loads(sys.argv[1])]
try:
    runpy.run_module("fieldagent", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = set(HEAVY)
loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
sys.stdout.write("\\n" + json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


def _fieldagent(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-m", "fieldagent", *args], capture_output=True,
                         text=True, cwd=cwd, timeout=120)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def _probe(args: list[str], cwd: Path | None = None) -> dict[str, object]:
    code = f"HEAVY = {list(HEAVY)!r}\n" + PROBE
    run = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True,
                         text=True, cwd=cwd, timeout=120)
    assert "Traceback" not in run.stderr, run.stderr
    result: dict[str, object] = json.loads(run.stdout.splitlines()[-1])
    return result


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """The example site config in an empty folder: no data dir, no agent has run."""
    config = tmp_path / "site.yaml"
    shutil.copy(EXAMPLE, config)
    return config


def test_python_m_fieldagent_prints_the_version() -> None:
    run = _fieldagent("--version")
    assert run.returncode == 0
    assert run.stdout.strip() == f"fieldagent {__version__}"


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["status", "--help"]],
                         ids=" ".join)
def test_light_commands_do_not_import_the_heavy_stack(args: list[str]) -> None:
    result = _probe(args)
    assert result == {"code": 0, "loaded": []}


def test_status_on_a_real_config_does_not_import_the_heavy_stack(site: Path) -> None:
    result = _probe(["status", "--config", str(site)], cwd=site.parent)
    assert result == {"code": 0, "loaded": []}


def test_help_documents_the_exit_codes() -> None:
    out = _fieldagent("--help").stdout
    assert "exit codes (every command):" in out
    for line in ("  0    done", "  1    the command ran and found problems",
                 "  2    usage", "  130  interrupted"):
        assert line in out, line


@pytest.mark.parametrize("args", [[], ["--no-such-option"], ["no-such-command"],
                                  ["status"], ["config"], ["model"]], ids=repr)
def test_usage_errors_exit_2(args: list[str]) -> None:
    run = _fieldagent(*args)
    assert run.returncode == 2
    assert "usage: fieldagent" in run.stderr


def test_a_command_group_without_its_action_shows_the_group_help() -> None:
    run = _fieldagent("config")
    assert "usage: fieldagent config" in run.stderr and "schema" in run.stderr


def test_a_config_a_command_cannot_start_with_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("version: 1\nno_such_key: 3\n", encoding="utf-8")
    run = _fieldagent("status", "--config", str(bad))
    assert run.returncode == 2
    assert "no_such_key" in run.stderr


def test_problems_found_exit_1_and_ok_exits_0(tmp_path: Path, site: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nno_such_key: 3\n", encoding="utf-8")
    assert _fieldagent("check-config", "--file-only", str(bad)).returncode == 1
    assert _fieldagent("check-config", "--file-only", str(site)).returncode == 0
