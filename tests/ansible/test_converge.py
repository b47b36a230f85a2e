"""A real converge of the fieldagent role against localhost, into a temporary root."""

from __future__ import annotations

import copy
import shutil
import stat
import subprocess

import pytest
import yaml

from tests.ansible.conftest import SECRET_VALUES, Run, Site, site_vars

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def converged(site: Site) -> tuple[Run, Run]:
    """Two converges in a row (the second must change nothing); -v for the secrets check."""
    first = site.play("-v")
    assert first.rc == 0, first.output
    second = site.play("-v")
    assert second.rc == 0, second.output
    return first, second


def test_first_converge_installs_the_wheel_and_renders_accepted_configs(
        site: Site, converged: tuple[Run, Run]) -> None:
    first, _ = converged
    assert first.recap()["changed"] > 0
    agent = site.venv / "bin" / "fieldagent"
    shown = subprocess.run([str(site.venv / "bin" / "python"), "-c",
                            "import fieldagent, sys; sys.stdout.write(fieldagent.__file__)"],
                           capture_output=True, text=True, check=True, cwd=site.tmp)
    assert shown.stdout.startswith(str(site.venv)), "the agent must come from the installed wheel"
    checked = subprocess.run([str(agent), "check-config", str(site.config_dir / "site.yaml")],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cfg = yaml.safe_load((site.config_dir / "site.yaml").read_text())
    assert cfg["site"]["id"] == "greenhouse-12"
    assert cfg["policy"] == str(site.config_dir / "policy.yaml")
    assert cfg["uplink"]["target"] == "s3://acme-greenhouse-fleet/fleet"
    assert [c["id"] for c in cfg["cameras"]] == ["cam1", "cam2"]
    assert (site.root / "var/lib/fieldagent/inbox/cam1").is_dir()


def test_second_converge_changes_nothing(converged: tuple[Run, Run]) -> None:
    _, second = converged
    recap = second.recap()
    assert recap["changed"] == 0, second.output
    assert recap["failed"] == 0


def test_secrets_stay_in_the_secrets_file(site: Site, converged: tuple[Run, Run]) -> None:
    secrets_file = site.config_dir / "secrets.yaml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    secrets = yaml.safe_load(secrets_file.read_text())
    assert secrets["smtp"]["password"] in SECRET_VALUES
    for run in converged:
        leaked = [v for v in SECRET_VALUES if v in run.output]
        assert not leaked, f"secret values in the ansible output: {leaked}"
    for path in site.root.rglob("*"):
        if path.is_file() and path != secrets_file and path.suffix in {".yaml", ".service", ""}:
            text = path.read_text(errors="replace")
            assert not [v for v in SECRET_VALUES if v in text], path


def test_unit_is_hardened_and_verifies(site: Site, converged: tuple[Run, Run]) -> None:
    unit = site.root / "etc/systemd/system/fieldagent.service"
    text = unit.read_text()
    for line in ("Type=notify", "WatchdogSec=60", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", f"ReadWritePaths={site.root}/var/lib/fieldagent"):
        assert line in text.splitlines(), line
    assert f"ExecStart={site.venv}/bin/fieldagent run --config {site.config_dir}/site.yaml" in text
    for line in ("StandardOutput=journal", "StandardError=journal",
                 "SyslogIdentifier=fieldagent"):  # journalctl -u fieldagent has the logs
        assert line in text.splitlines(), line
    assert "append:" not in text and "LogsDirectory" not in text
    assert not (site.root / "etc/logrotate.d/fieldagent").exists()  # no file, nothing to rotate
    assert "logging" not in yaml.safe_load((site.config_dir / "site.yaml").read_text())
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_diff_of_one_zone_shows_only_the_site_config(
        site: Site, converged: tuple[Run, Run]) -> None:
    cameras = copy.deepcopy(site_vars()["fieldagent_cameras"])
    cameras[1]["zones"][0]["box"] = [0.0, 0.25, 0.5, 0.9]
    before = (site.config_dir / "site.yaml").read_text()
    run = site.play("--check", "--diff", extra={"fieldagent_cameras": cameras})
    assert run.rc == 0, run.output
    changed = [line for line in run.output.splitlines() if line.startswith("changed:")]
    assert len(changed) == 1, run.output
    assert run.recap()["changed"] == 1, run.output
    diff = [line for line in run.output.splitlines()
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    assert diff == ["-    - 0.2", "+    - 0.25"] or all("0.2" in d for d in diff), diff
    assert "RUNNING HANDLER [fieldagent : Restart fieldagent]" in run.output
    assert (site.config_dir / "site.yaml").read_text() == before, "--check changed a file"


def test_bad_zone_fails_before_the_live_config_changes(
        site: Site, converged: tuple[Run, Run]) -> None:
    cameras = copy.deepcopy(site_vars()["fieldagent_cameras"])
    cameras[1]["zones"][0]["box"] = [0.0, 0.2, 1.5, 0.9]
    before = {p: p.read_bytes() for p in site.config_dir.iterdir()}
    run = site.play(extra={"fieldagent_cameras": cameras,
                           "fieldagent_policy_overrides": {"link": {"rate": "1Mbit/s"}}})
    assert run.rc != 0
    assert "nothing was replaced" in run.output
    assert "cameras[1].zones[0].box[2]: 1.5" in run.output, run.output
    assert {p: p.read_bytes() for p in site.config_dir.iterdir()} == before


def test_bad_site_id_fails_before_anything_is_changed(site: Site, tmp_path) -> None:
    fresh = Site(tmp_path / "root", tmp_path, {**site.base_vars,
                                                "fieldagent_root": str(tmp_path / "root")})
    fresh.root.mkdir()
    run = fresh.play(extra={"fieldagent_site_id": "Greenhouse 12"})
    assert run.rc != 0
    assert "fieldagent_site_id is \"Greenhouse 12\"" in run.output, run.output
    assert "lower-case letters" in run.output
    assert list(fresh.root.iterdir()) == []



def test_an_inbox_outside_the_state_folder_is_writable_for_the_agent(
        site: Site, converged: tuple[Run, Run]) -> None:
    """ProtectSystem=strict makes everything else read-only: the agent takes files out of
    its inbox folders, so one elsewhere (an FTP server's home) must be listed too."""
    cameras = copy.deepcopy(site_vars()["fieldagent_cameras"])
    ftp = f"{site.root}/srv/ftp/cam1"
    cameras[0]["source"]["path"] = ftp
    run = site.play("--check", "--diff", extra={"fieldagent_cameras": cameras})
    assert run.rc == 0, run.output
    added = [line for line in run.output.splitlines() if line.startswith("+ReadWritePaths=")]
    assert added == [f"+ReadWritePaths={site.root}/var/lib/fieldagent {ftp}"], run.output


def test_an_inventory_without_rules_keeps_the_built_in_alerts(
        site: Site, converged: tuple[Run, Run]) -> None:
    """An inventory that sets no rules renders no `rules:` key: the built-in stress and
    camera-health rules stay in force (an empty list would have switched them off)."""
    run = site.play(extra={"fieldagent_alert_rules": []})
    assert run.rc == 0, run.output
    config = site.config_dir / "site.yaml"
    assert "rules" not in yaml.safe_load(config.read_text())["alerts"]
    explained = subprocess.run(
        [str(site.venv / "bin" / "fieldagent"), "check-config", "--explain", str(config)],
        capture_output=True, text=True, check=False)
    assert explained.returncode == 0, explained.stdout + explained.stderr
    for rule in ("zone-stressed", "zone-yellowing", "zone-browning", "camera-moved",
                 "camera-fogged", "camera-frozen"):
        assert f"{rule} " in explained.stdout and "built-in" in explained.stdout


def test_each_host_gets_its_own_device_id(site: Site, converged: tuple[Run, Run]) -> None:
    """The default device id is the host name's first label, not one value for every host."""
    cfg = yaml.safe_load((site.config_dir / "site.yaml").read_text())
    assert cfg["site"]["device"] == "gh12-agent-1"


def _fresh(site: Site, tmp_path) -> Site:
    fresh = Site(tmp_path / "root", tmp_path, {**site.base_vars,
                                                "fieldagent_root": str(tmp_path / "root")})
    fresh.root.mkdir()
    return fresh


def test_two_hosts_with_one_device_id_are_refused_before_anything_changes(
        site: Site, tmp_path) -> None:
    fresh = _fresh(site, tmp_path)
    run = fresh.play(limit="fieldagent", extra={"fieldagent_site_id": "greenhouse-12",
                                                "fieldagent_device_id": "agent-1"})
    assert run.rc != 0
    assert 'fieldagent_device_id "agent-1" of site greenhouse-12 is used by' in run.output
    assert "gh12-agent-1.example.net, gh31-agent-1.example.net" in run.output, run.output
    assert list(fresh.root.iterdir()) == []


def test_python_older_than_3_11_is_refused_before_anything_changes(
        site: Site, tmp_path) -> None:
    """Ubuntu jammy's python3 is 3.10: a stand-in that reports that version is refused."""
    fresh = _fresh(site, tmp_path)
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\necho 3.10.12\n")
    old.chmod(0o755)
    run = fresh.play(extra={"fieldagent_python": str(old)})
    assert run.rc != 0
    assert f"fieldagent_python {old} on gh12-agent-1.example.net is Python 3.10.12" in run.output
    assert "needs Python 3.11 or newer" in run.output, run.output
    assert list(fresh.root.iterdir()) == []
    missing = fresh.play(extra={"fieldagent_python": str(tmp_path / "no-python")})
    assert missing.rc != 0
    assert "is not runnable" in missing.output, missing.output
