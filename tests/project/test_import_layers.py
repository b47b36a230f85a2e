"""The layering contracts in ``.importlinter`` hold, and break on a planted violation.

``scripts/test`` runs ``lint-imports`` on the tree; these tests run it too, on the tree and
on a copy with one forbidden import planted per contract, so a contract that can no longer
fail (a renamed package, a typo in a module name) is caught here.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project.test_project_imports import imports

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = [p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()
            and p.name in {"fieldagent", "cloudjobs", "fieldcontract", "objectstore"}]

# contract id -> (file to plant in, the forbidden import), one per contract in the config
PLANTS = {
    "contract-is-a-leaf": ("fieldcontract/keys.py", "import fieldagent.decode"),
    "objectstore-is-a-leaf": ("objectstore/keys.py", "import cloudjobs.store"),
    "device-never-imports-cloud": ("fieldagent/roi/zones.py", "import cloudjobs.lake"),
    "queue-is-not-the-uplink": ("fieldagent/outbox/spool.py", "import fieldagent.uplink.retry"),
    "analysis-is-pure": ("fieldagent/signals/compute.py", "import fieldagent.outbox.sqlite"),
    "cloud-uses-no-device-runtime": ("cloudjobs/lake/ingest.py",
                                      "import fieldagent.service.agent"),
    "queue-is-below-offload": ("fieldagent/outbox/spool.py", "import fieldagent.offload.sampling"),
    "policy-is-data": ("fieldagent/policy/checks.py", "import fieldagent.offload.degrade"),
    "offload-is-not-the-uplink": ("fieldagent/offload/sampling.py",
                                  "import fieldagent.uplink.budget"),
}

pytestmark = pytest.mark.skipif(not LINT.is_file(), reason="import-linter is not installed")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", str(root / ".importlinter"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def contracts() -> dict[str, str]:
    """Contract id -> its name, from the config."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    prefix = "importlinter:contract:"
    return {s.removeprefix(prefix): parser[s]["name"] for s in parser.sections()
            if s.startswith(prefix)}


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "*.png"))
    shutil.copy(CONFIG, root / ".importlinter")
    return root


def test_every_contract_has_a_planted_violation() -> None:
    assert set(contracts()) == set(PLANTS)


def test_the_tree_keeps_every_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in contracts().values():
        assert f"{name} KEPT" in result.stdout


@pytest.mark.parametrize("contract", sorted(PLANTS))
def test_a_planted_violation_breaks_its_contract(copy: Path, contract: str) -> None:
    file, statement = PLANTS[contract]
    target = copy / file
    original = target.read_text()
    target.write_text(original + f"\n{statement}  # planted by test_import_layers\n")
    try:
        result = lint(copy)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert f"{contracts()[contract]} BROKEN" in result.stdout, result.stdout


SHARED_WITH_CLOUD = frozenset({
    "fieldagent.errors", "fieldagent.config.base", "fieldagent.decode",
    "fieldagent.synth", "fieldagent.synth.texture", "fieldagent.synth.background",
    "fieldagent.inference.preprocess", "fieldagent.inference.session",
    "fieldagent.inference.abstain", "fieldagent.inference.manifest",
    "fieldagent.roi.segment", "fieldagent.roi.config",
    "fieldagent.signals.compute", "fieldagent.signals.baseline",
    "fieldagent.modelupdate.signing", "fieldagent.modelupdate.golden",
})
"""The device modules the cloud jobs may import (docs/architecture.md says why each)."""


def cloud_imports_of_device(root: Path) -> set[str]:
    """Every ``fieldagent`` module a ``cloudjobs`` file imports directly."""
    found = set()
    for path in (root / "cloudjobs").rglob("*.py"):
        for _, module, name in imports(path.read_text()):
            if module == "fieldagent":
                found.add(f"fieldagent.{name}" if name else module)
            elif module.startswith("fieldagent."):
                found.add(module)
    return found


def test_the_cloud_imports_only_the_named_shared_part_of_the_device() -> None:
    extra = cloud_imports_of_device(ROOT) - SHARED_WITH_CLOUD
    assert not extra, (f"cloudjobs imports device modules outside the shared part: {extra}; "
                       "use fieldcontract/objectstore, or name it in SHARED_WITH_CLOUD and "
                       "docs/architecture.md with the reason")


def test_the_shared_part_check_catches_a_new_reach_into_the_device(copy: Path) -> None:
    target = copy / "cloudjobs" / "lake" / "ingest.py"
    original = target.read_text()
    target.write_text(original + "\nfrom fieldagent.outbox.sqlite import SqliteOutbox\n")
    try:
        assert "fieldagent.outbox.sqlite" in cloud_imports_of_device(copy) - SHARED_WITH_CLOUD
    finally:
        target.write_text(original)
