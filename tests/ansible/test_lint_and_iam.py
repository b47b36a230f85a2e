"""Static checks of ansible/ (ansible-lint production profile, yamllint) and the IAM policies."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest

from tests.ansible.conftest import ANSIBLE_DIR, BIN, Site, tool


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    home = tempfile.mkdtemp(prefix="ansible-home.")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "NO_COLOR": "1", "ANSIBLE_HOME": home}
    return subprocess.run(cmd, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_yamllint_passes() -> None:
    done = _run([str(tool("yamllint")), "--strict", "-c", ".yamllint.yml", "."])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_ansible_lint_production_profile_passes() -> None:
    done = _run([str(tool("ansible-lint")), "--offline", "--profile", "production"])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_iam_policy_allows_only_the_sites_own_prefixes(site: Site) -> None:
    out = site.tmp / "iam"
    run = site.play(extra={"fieldagent_iam_out_dir": str(out)}, playbook="iam.yml")
    assert run.rc == 0, run.output
    policy = json.loads((out / "greenhouse-12.json").read_text())
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    write = statements["WriteOwnSiteObjects"]
    assert "s3:PutObject" in write["Action"]
    assert "s3:DeleteObject" not in write["Action"]
    for arn in write["Resource"]:
        assert arn.startswith("arn:aws:s3:::acme-greenhouse-fleet/fleet/raw/")
        assert arn.endswith("/site=greenhouse-12/*"), arn
        kind = arn.removeprefix("arn:aws:s3:::acme-greenhouse-fleet/fleet/raw/").split("/")[0]
        assert "*" not in kind, "a wildcard kind would match another site's partition too"
    listed = statements["ListOwnSitePrefixes"]["Condition"]["StringLike"]["s3:prefix"]
    assert all("/site=greenhouse-12/" in p for p in listed)
    read = statements["ReadModelChannel"]
    assert read["Action"] == ["s3:GetObject"]
    assert read["Resource"] == ["arn:aws:s3:::acme-greenhouse-fleet/models/stable/*"]
    assert "greenhouse-31" not in json.dumps(policy)
