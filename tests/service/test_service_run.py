"""``fieldagent run`` as systemd runs it: readiness and watchdog over a real notify socket,
/metrics and /healthz on loopback, an image dropped into the inbox is analysed and its
alerts delivered, and SIGTERM stops it cleanly with its state saved."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from fieldagent.service.systemd import Notifier
from tests.service.conftest import camera_day, write_site
from tests.sinks.servers import Receiver, wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    return sock


def _messages(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


def test_notifier_speaks_the_sd_notify_protocol(tmp_path: Path) -> None:
    sock = _notify_socket(tmp_path / "notify")
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "4000000"})
    assert n.enabled and n.watchdog_s == 4.0
    assert n.ready("up") and n.watchdog() and n.stopping()
    assert _messages(sock) == ["READY=1\nSTATUS=up", "WATCHDOG=1", "STOPPING=1"]
    assert not Notifier({}).ready("nobody listens")  # outside systemd: a quiet no-op


@pytest.mark.slow
def test_run_serves_alerts_metrics_and_stops_cleanly_on_sigterm(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = _free_port()
    config = write_site(tmp_path, receiver.url)
    cfg = yaml.safe_load(config.read_text())
    cfg["telemetry"] = {"metrics": {"enabled": True, "host": "127.0.0.1", "port": port}}
    cfg["service"] = {"scan_interval_seconds": 0.2, "housekeeping_interval_seconds": 1}
    config.write_text(yaml.safe_dump(cfg))
    sock = _notify_socket(tmp_path / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "1500000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldagent.cli", "run", "--config", str(config),
         "--log-format", "json"],
        env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(f"{base}/healthz") == 200, timeout=60)
        msgs: list[str] = []
        wait_until(lambda: any("READY=1" in m for m in msgs.__iadd__(_messages(sock))),
                   timeout=10)
        wait_until(lambda: "WATCHDOG=1" in msgs.__iadd__(_messages(sock)), timeout=10)

        inbox = tmp_path / "inbox" / "bench-a"
        for _, src in camera_day(tmp_path)[:11]:  # the chlorosis episode raises by frame 9
            shutil.copyfile(src, inbox / src.name)  # as a camera writes: no chmod after close
        wait_until(lambda: len(receiver.requests) >= 1, timeout=90)
        hook = json.loads(receiver.requests[0].body)
        assert hook["state"] == "raised" and hook["camera"] == "bench-a"

        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        assert 'fieldagent_images_processed_total{camera="bench-a",status="ok"}' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(entry["message"] == "stopped" for entry in logs)
    assert "STOPPING=1" in _messages(sock) + msgs
    state = json.loads((tmp_path / "data" / "state.json").read_text())
    assert state["camera_status"]["bench-a"]["status"] == "ok"
    assert not [p for p in inbox.rglob("*.jpg") if ".taken" not in p.parts]


def _get(url: str) -> int:
    """The HTTP status, 0 while nothing answers (503 counts as not yet)."""
    time.sleep(0.05)  # wait_until polls fast; do not hammer the agent while it starts
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except OSError:
        return 0


@pytest.mark.slow
def test_sigterm_in_the_middle_of_work_loses_nothing(tmp_path: Path) -> None:
    """Stop the service while it is busy, start it again: every image is analysed, its
    records reach the cloud exactly once, and no file is left in the inbox."""
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(
        {"name": "test", "batching": {"max_age": "2s", "max_records": 20}}))
    config = write_site(tmp_path, None, policy="policy.yaml",
                        service={"scan_interval_seconds": 0.2,
                                 "housekeeping_interval_seconds": 1})
    inbox = tmp_path / "inbox" / "bench-a"
    inbox.mkdir(parents=True)
    images = camera_day(tmp_path, frames=16)
    for _, src in images:
        shutil.copy(src, inbox / src.name)
    cmd = [sys.executable, "-m", "fieldagent.cli", "run", "--config", str(config)]
    first = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)

    def waiting() -> int:  # files not yet finished: in the inbox or taken and queued
        return len([p for p in inbox.rglob("*.jpg") if "processed" not in p.parts])

    try:
        wait_until(lambda: waiting() < len(images), timeout=90)  # the first one is done
    finally:
        first.send_signal(signal.SIGTERM)
        left = waiting()
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err[-2000:]
    assert left > 0, "the service finished everything before it was stopped"

    second = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(_image_records(tmp_path)) >= len(images), timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err[-2000:]
    stamps = [r["ts"] for r in _image_records(tmp_path)]
    assert len(stamps) == len(set(stamps)) == len(images)
    assert not [p for p in inbox.rglob("*") if p.is_file()]


def _image_records(tmp_path: Path) -> list[dict[str, object]]:
    from fieldcontract.batch import read_batch

    out = []
    for f in (tmp_path / "cloud" / "raw" / "signals").rglob("*.gz"):
        out += [r for r in read_batch(f.read_bytes())[1] if r.get("type") == "image"]
    return out
