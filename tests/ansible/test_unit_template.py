"""The systemd unit rendered by Ansible's own templating for a device's standard paths (no
test root), where systemd's StateDirectory=/ConfigurationDirectory=/LogsDirectory= fit; the
converge test covers the unit under a temporary root, where they must not appear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.ansible.conftest import ANSIBLE_DIR, SITE_VARS, tool

ROLE = ANSIBLE_DIR / "roles" / "fieldagent"


def render_unit(tmp: Path, **overrides: Any) -> list[str]:
    """The unit's lines as ansible-playbook renders it with the role's defaults and vars,
    the example site's variables and ``overrides`` (a one-task play on localhost)."""
    out = tmp / "fieldagent.service"
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml"),
                            str(SITE_VARS)],
             "tasks": [{"ansible.builtin.template": {
                 "src": str(ROLE / "templates" / "fieldagent.service.j2"),
                 "dest": str(out), "mode": "0644"}}]}]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    extra = {"fieldagent_site_id": "gh-12", "ansible_python_interpreter": sys.executable,
             **overrides}
    env = {**os.environ, "ANSIBLE_HOME": str(tmp / "home"),
           "ANSIBLE_LOCAL_TEMP": str(tmp / "atmp"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run([str(tool("ansible-playbook")), "-i", "localhost,", "play.yml",
                           "-e", json.dumps(extra)], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out.read_text().splitlines()


def test_standard_paths_use_systemd_directories_and_the_journal(tmp_path: Path) -> None:
    lines = render_unit(tmp_path)
    for line in ("StateDirectory=fieldagent", "ConfigurationDirectory=fieldagent",
                 "StandardOutput=journal", "SyslogIdentifier=fieldagent"):
        assert line in lines, line
    assert not [ln for ln in lines if ln.startswith("LogsDirectory")]  # journal only


def test_a_log_file_brings_its_folder(tmp_path: Path) -> None:
    lines = render_unit(tmp_path, fieldagent_log_to_file=True)
    assert "LogsDirectory=fieldagent" in lines
    rw = next(ln for ln in lines if ln.startswith("ReadWritePaths="))
    assert "/var/log/fieldagent" in rw.split("=", 1)[1].split()
