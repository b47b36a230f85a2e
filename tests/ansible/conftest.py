"""Fixtures for the Ansible role tests: a real converge with ``-c local`` into a temporary root.

The role installs the agent wheel built from this checkout into a fresh virtualenv under the
temporary root. Its dependencies are borrowed from the test interpreter's environment through
the role's test-only ``fieldagent_venv_extra_paths`` (a ``.pth`` file pointing at a folder of
symlinks to every installed distribution except fieldagent itself), so pip must really install
the wheel, without downloading numpy and onnxruntime on every run.
"""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
INVENTORY = ANSIBLE_DIR / "inventory" / "example"
VAULT_PASSWORD = INVENTORY / "vault-password.example.txt"
BIN = Path(sys.executable).parent
HOST = "gh12-agent-1.example.net"
SITE_VARS = INVENTORY / "group_vars" / "greenhouse_12" / "vars.yml"
# Every secret value in the example vaults: none may appear outside secrets.yaml.
SECRET_VALUES = (
    "example-s3-secret-gh12-Zq8", "EXAMPLEAKIDGH12", "example-cam2-password-Kp3",
    "example-ntfy-token-gh12-Wv5", "example-smtp-password-gh12-Rt7",
)


def tool(name: str) -> Path:
    """A console script of the test interpreter's environment; skip when it is missing."""
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable}: "
                    "pip install -e '.[dev]' installs ansible-core, ansible-lint and yamllint")
    return path


@dataclass
class Run:
    """One finished ansible-playbook run."""

    rc: int
    output: str

    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counters of the single host (ok, changed, failed ...)."""
        for line in self.output.splitlines():
            if line.startswith(HOST) and "changed=" in line:
                fields = dict(f.split("=") for f in line.split(":", 1)[1].split())
                return {k: int(v) for k, v in fields.items()}
        raise AssertionError(f"no PLAY RECAP line for {HOST} in:\n{self.output}")


@dataclass
class Site:
    """A converge target: a temporary root, its variables and a way to run the playbook."""

    root: Path
    tmp: Path
    base_vars: dict[str, Any]

    @property
    def config_dir(self) -> Path:
        return self.root / "etc" / "fieldagent"

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "fieldagent" / "venv"

    def play(self, *args: str, extra: dict[str, Any] | None = None,
             playbook: str = "site.yml", limit: str = HOST) -> Run:
        """Run a playbook against the example inventory's ``limit`` hosts (by default gh12's),
        locally, into ``root``."""
        vars_file = self.tmp / "vars.yml"
        vars_file.write_text(yaml.safe_dump({**self.base_vars, **(extra or {})}))
        env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
               "ANSIBLE_HOME": str(self.tmp / "ansible-home"),
               "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
               "ANSIBLE_REMOTE_TEMP": str(self.tmp / "ansible-tmp"),
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        cmd = [str(tool("ansible-playbook")), "-i", str(INVENTORY), playbook,
               "--limit", limit, "-c", "local", "--vault-password-file", str(VAULT_PASSWORD),
               "-e", f"@{vars_file}", *args]
        proc = subprocess.run(cmd, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        return Run(proc.returncode, proc.stdout + proc.stderr)


def _wheel(tmp: Path) -> Path:
    """Build the agent wheel from a copy of this checkout (setuptools writes build/ in place)."""
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for part in ("fieldagent", "cloudjobs", "fieldcontract", "objectstore"):
        shutil.copytree(REPO / part, src / part, ignore=ignore)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / part, src / part)
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(out), str(src)], check=True, timeout=300)
    (wheel,) = out.glob("fieldagent-*.whl")
    return wheel


def _borrowed_site_packages(tmp: Path) -> Path:
    """Symlinks to every installed distribution of this interpreter except fieldagent's own."""
    here = Path(sysconfig.get_paths()["purelib"])
    farm = tmp / "borrowed-site-packages"
    farm.mkdir()
    for entry in here.iterdir():
        name = entry.name.lower()
        if name.startswith(("fieldagent", "cloudjobs", "__editable__")) or name.endswith(".pth"):
            continue
        (farm / entry.name).symlink_to(entry)
    return farm


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A temporary root with the folders a Debian host has, and the test-only variables."""
    tool("ansible-playbook")
    tmp = tmp_path_factory.mktemp("ansible")
    root = tmp / "root"
    for folder in ("etc/systemd/system", "etc/logrotate.d"):
        (root / folder).mkdir(parents=True)
    user = getpass.getuser()
    base_vars = {
        "fieldagent_root": str(root),
        "fieldagent_package_source": "wheel",
        "fieldagent_wheel": str(_wheel(tmp)),
        "fieldagent_venv_extra_paths": [str(_borrowed_site_packages(tmp))],
        "fieldagent_python": sys.executable,
        "fieldagent_os_packages": [],
        "fieldagent_create_user": False,
        "fieldagent_user": user,
        "fieldagent_group": grp.getgrgid(os.getgid()).gr_name,
        "fieldagent_config_owner": user,
        "fieldagent_manage_service": False,
        "ansible_become": False,
        "ansible_python_interpreter": sys.executable,
    }
    yield Site(root, tmp, base_vars)


def site_vars() -> dict[str, Any]:
    """The example site's group_vars, as the inventory holds them."""
    data: dict[str, Any] = yaml.safe_load(SITE_VARS.read_text())
    return data
