"""Every command in the ``bash`` blocks of docs/fleet-admin.md, run as written.

The guide's commands run in a copy of ``ansible/`` with the environment the guide sets
(``export`` lines). What can run offline runs fully (``ansible-inventory``, ``iam.yml``, which
only writes files on the controller); playbooks that reach the example hosts run as written
with ``--syntax-check`` and ``--list-hosts`` added (the hosts are not reachable); the
interactive ``ansible-vault`` commands are replaced by ``ansible-vault view`` of the files
they name, which proves the documented password opens them. A command of another kind
fails the test, so the guide cannot gain an untested command.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from fieldagent.modelupdate.config import ModelUpdateConfig
from tests.ansible.conftest import ANSIBLE_DIR, BIN, REPO, tool

GUIDE = REPO / "docs" / "fleet-admin.md"


@dataclass
class Shell:
    """The guide's working folder and exported variables, as a reader's shell has them."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run one command (an ansible console script of the test environment) in the shell."""
        env = {**os.environ, **self.env, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        return subprocess.run([str(tool(argv[0])), *argv[1:]], cwd=self.cwd, env=env,
                              capture_output=True, text=True, timeout=300, check=False)


def guide_commands() -> list[str]:
    """The command lines of the guide's ``bash`` blocks, comments removed."""
    blocks = re.findall(r"^```bash\n(.*?)^```", GUIDE.read_text(), flags=re.S | re.M)
    lines = (line.split(" #")[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


@pytest.fixture()
def shell(tmp_path: Path) -> Shell:
    """A copy of ansible/ (iam.yml writes build/ next to the playbook) and a private home."""
    tool("ansible-playbook")
    work = tmp_path / "repo"
    shutil.copytree(ANSIBLE_DIR, work / "ansible", ignore=shutil.ignore_patterns("build"))
    return Shell(work, {"ANSIBLE_HOME": str(tmp_path / "ansible-home"),
                        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")})


def _playbook(shell: Shell, argv: list[str]) -> None:
    if "iam.yml" in argv:
        done = shell.run(argv)
        assert done.returncode == 0, done.stdout + done.stderr
        for site in ("greenhouse-12", "greenhouse-31"):
            written = shell.cwd / "build" / "iam" / f"{site}.json"
            limited_out = "greenhouse_12" in argv and site == "greenhouse-31"
            assert written.exists() != limited_out, (argv, written)
        return
    for added in ("--syntax-check", "--list-hosts"):
        done = shell.run([*argv, added])
        assert done.returncode == 0, (argv, added, done.stdout + done.stderr)
    if "--limit" in argv and argv[argv.index("--limit") + 1] == "greenhouse_12":
        assert "gh31-agent-1.example.net" not in done.stdout, done.stdout


def _inventory(shell: Shell, argv: list[str]) -> None:
    done = shell.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = json.loads(done.stdout)
    assert set(listed["fieldagent"]["children"]) == {"greenhouse_12", "greenhouse_31"}
    site = listed["_meta"]["hostvars"]["gh12-agent-1.example.net"]
    assert site["fieldagent_site_id"] == "greenhouse-12"
    assert "s3" in site["vault_fieldagent_secrets"], "the vault did not open"


def _vault(shell: Shell, argv: list[str]) -> None:
    files = [f for pattern in argv[2:] for f in sorted(glob.glob(pattern, root_dir=shell.cwd))]
    assert files, f"{argv} names no file that exists"
    for name in files:
        done = shell.run(["ansible-vault", "view", name])
        assert done.returncode == 0, (name, done.stdout + done.stderr)
        assert "s3" in yaml.safe_load(done.stdout)["vault_fieldagent_secrets"]


def test_the_guide_has_commands_for_every_task() -> None:
    commands = " ".join(guide_commands())
    for needed in ("ansible-inventory", "iam.yml", "site.yml", "rollout.yml", "ansible-vault"):
        assert needed in commands, needed


@pytest.mark.slow
def test_every_command_in_the_guide_runs_as_written(shell: Shell) -> None:
    for line in guide_commands():
        argv = shlex.split(line)
        if argv[0] == "cd":
            shell.cwd = shell.cwd / argv[1]
        elif argv[0] == "export":
            name, value = argv[1].split("=", 1)
            shell.env[name] = value
        elif argv[0] == "ansible-playbook":
            _playbook(shell, argv)
        elif argv[0] == "ansible-inventory":
            _inventory(shell, argv)
        elif argv[:2] in (["ansible-vault", "edit"], ["ansible-vault", "rekey"]):
            _vault(shell, argv)
        else:
            pytest.fail(f"docs/fleet-admin.md: {line!r}: no test runs this kind of command; "
                        "add it to tests/ansible/test_guide_commands.py")


def test_no_default_inventory_points_at_the_example_hosts() -> None:
    cfg = (ANSIBLE_DIR / "ansible.cfg").read_text()
    assert not re.search(r"^\s*inventory\s*=", cfg, flags=re.M), cfg


def test_rollout_goes_in_batches_and_stops_on_failures() -> None:
    (play,) = yaml.safe_load((ANSIBLE_DIR / "rollout.yml").read_text())
    assert play["serial"] == [1, "10%", "50%"]
    assert play["max_fail_percentage"] == 10
    assert play["roles"] == [{"role": "fieldagent"}]


@pytest.mark.parametrize("doc", [GUIDE, REPO / "README.md"], ids=["guide", "readme"])
def test_the_documented_model_updates_example_is_a_valid_section(doc: Path) -> None:
    text = doc.read_text()
    (example,) = [b for b in re.findall(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M)
                  if b.startswith("model_updates:")]
    section = ModelUpdateConfig.model_validate(yaml.safe_load(example)["model_updates"])
    assert section.enabled
    documented = set(yaml.safe_load(example)["model_updates"])
    assert documented == set(ModelUpdateConfig.model_fields), "every key, and only those"
