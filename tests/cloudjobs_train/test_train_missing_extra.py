"""Without PyTorch, the training commands say how to get its CPU build, not a traceback."""

from __future__ import annotations

import subprocess
import sys

_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # as on a machine where the train extra is not installed
from cloudjobs.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _WITHOUT_TORCH, *args],
                          capture_output=True, text=True, timeout=120)


def test_train_bootstrap_without_torch_names_the_cpu_build_and_the_extra() -> None:
    out = _run("train-bootstrap", "--out", "unused")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "needs the 'train' extra" in out.stderr
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in out.stderr
    assert "pip install -e '.[train]'" in out.stderr
    assert out.stderr.index("whl/cpu") < out.stderr.index(".[train]")  # torch first


def test_the_cloud_extra_hint_has_no_torch_advice() -> None:
    from cloudjobs.cli import missing_extra

    msg = missing_extra("cloudjobs report", "cloud", ImportError("No module named 'duckdb'"))
    assert msg.endswith("install it with: pip install -e '.[cloud]'") and "torch" not in msg
