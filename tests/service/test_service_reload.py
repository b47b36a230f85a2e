"""SIGHUP reloads the site config: a bad file is refused with check-config's messages and
the agent keeps running on the old config; a good one takes effect without a restart."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.service.conftest import camera_day, write_site
from tests.sinks.servers import wait_until


class Log:
    """Reads the agent's stderr on a thread so the test can wait for lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        import threading

        self.lines: list[str] = []
        assert proc.stderr is not None
        stream = proc.stderr

        def pump() -> None:
            for line in stream:
                self.lines.append(line)

        threading.Thread(target=pump, daemon=True).start()

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@pytest.mark.slow
def test_sighup_refuses_a_bad_config_and_applies_a_good_one(tmp_path: Path) -> None:
    config = write_site(tmp_path, None, cameras=1,
                        service={"scan_interval_seconds": 0.2})
    good = yaml.safe_load(config.read_text())
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldagent.cli", "run", "--config", str(config)],
        stderr=subprocess.PIPE, text=True)
    log = Log(proc)
    try:
        wait_until(lambda: log.has("running: site test-site"), timeout=60)
        bad = json.loads(json.dumps(good))
        bad["cameras"][0]["source"]["setle_seconds"] = 1
        config.write_text(yaml.safe_dump(bad))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log.has("config reload refused"), timeout=30)
        assert log.has("did you mean 'settle_seconds'?")
        assert proc.poll() is None, "a bad reload must not stop the agent"

        two = json.loads(json.dumps(good))
        second = json.loads(json.dumps(two["cameras"][0]))
        second.update(id="bench-b", source={"kind": "inbox", "path": "inbox/bench-b",
                                            "settle_seconds": 0})
        two["cameras"].append(second)
        config.write_text(yaml.safe_dump(two))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log.has("config reloaded"), timeout=60)
        inbox = tmp_path / "inbox" / "bench-b"
        _, src = camera_day(tmp_path, frames=1, camera=1)[0]
        shutil.copyfile(src, inbox / src.name)
        wait_until(lambda: not (inbox / src.name).exists()
                   and not list((inbox / ".taken").glob("*.jpg")), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    time.sleep(0.1)
    assert proc.returncode == 0, "".join(log.lines[-30:])
    state = json.loads((tmp_path / "data" / "state.json").read_text())
    assert state["camera_status"]["bench-b"]["status"] == "ok"
