"""The agent's log records reach the systemd journal as entries: the real ``fieldagent run``
sends them over the journal's native protocol to a socket the test binds (the test plays
journald), each with its message, syslog priority, identifier, source line and camera."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldagent.service.journal import JournalHandler, encode, stderr_is_journal
from fieldagent.service.logsetup import setup_logging
from tests.service.conftest import write_site
from tests.sinks.servers import wait_until

Entry = dict[str, str]


def parse(data: bytes) -> Entry:
    """One datagram of the journal's native protocol: ``KEY=value`` lines, and for a value
    with newlines ``KEY\\n`` + 64-bit little-endian length + bytes + ``\\n``."""
    out: Entry = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            pos = end + 1
        else:
            key, size = line, int.from_bytes(data[end + 1:end + 9], "little")
            value = data[end + 9:end + 9 + size]
            assert data[end + 9 + size:end + 10 + size] == b"\n", "binary field not closed"
            pos = end + 10 + size
        out[key.decode()] = value.decode()
    return out


class FakeJournald:
    """A Unix datagram socket in the test's folder, read as journald reads its socket
    (including an entry passed as a memfd when it is too large for one datagram)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.entries: list[Entry] = []

    def read(self) -> list[Entry]:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 1)
            except TimeoutError:
                return self.entries
            if fds:
                with os.fdopen(fds[0], "rb") as f:
                    f.seek(0)  # the sender's writes moved the shared offset to the end
                    data = f.read()
            self.entries.append(parse(data))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def journald(tmp_path: Path) -> Iterator[FakeJournald]:
    j = FakeJournald(tmp_path / "journal.sock")
    yield j
    j.close()


def test_encode_and_parse_agree_on_multi_line_values() -> None:
    fields = {"MESSAGE": "line one\nline two=with equals", "PRIORITY": "3"}
    assert parse(encode(fields)) == fields


def test_python_levels_map_to_syslog_priorities(journald: FakeJournald) -> None:
    handler = JournalHandler("fieldagent-test", str(journald.path))
    log = logging.getLogger("tests.journal.levels")
    log.propagate, log.level = False, logging.DEBUG
    log.addHandler(handler)
    try:
        for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO,
                      logging.DEBUG):
            log.log(level, "at %s", logging.getLevelName(level), extra={"zone": "z1"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed on purpose")
    finally:
        log.removeHandler(handler)
        handler.close()
    entries = journald.read()
    assert [(e["MESSAGE"], e["PRIORITY"]) for e in entries[:5]] == [
        ("at CRITICAL", "2"), ("at ERROR", "3"), ("at WARNING", "4"), ("at INFO", "6"),
        ("at DEBUG", "7")]
    assert all(e["SYSLOG_IDENTIFIER"] == "fieldagent-test" for e in entries)
    assert entries[0]["ZONE"] == "z1" and entries[0]["CODE_FUNC"] == (
        "test_python_levels_map_to_syslog_priorities")
    assert entries[0]["CODE_FILE"] == __file__
    failed = entries[5]
    assert failed["PRIORITY"] == "3" and failed["MESSAGE"].startswith("failed on purpose\n")
    assert "ValueError: boom" in failed["MESSAGE"]  # the traceback is one entry, not many


def test_an_entry_too_large_for_a_datagram_goes_as_a_memfd(journald: FakeJournald) -> None:
    handler = JournalHandler(path=str(journald.path))
    big = "x" * (1 << 19)  # past the default Unix datagram limit (~212 kB)
    handler.emit(logging.makeLogRecord({"msg": big, "levelno": logging.INFO}))
    handler.close()
    assert journald.read()[0]["MESSAGE"] == big


@pytest.mark.slow
def test_fieldagent_run_logs_to_the_journal_socket(
    tmp_path: Path, journald: FakeJournald
) -> None:
    config = write_site(tmp_path, None, logging={"target": "journal"},
                        service={"scan_interval_seconds": 0.2,
                                 "housekeeping_interval_seconds": 1})
    inbox = tmp_path / "inbox" / "bench-a"
    inbox.mkdir(parents=True)
    env = {**os.environ, "FIELDAGENT_JOURNAL_SOCKET": str(journald.path)}
    proc = subprocess.Popen([sys.executable, "-m", "fieldagent.cli", "run", "--config",
                             str(config)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(" running: site " in e["MESSAGE"]
                               for e in journald.read()), timeout=60)
        (inbox / "broken.jpg").write_bytes(b"not a jpeg at all")
        wait_until(lambda: any("quarantined" in e["MESSAGE"] for e in journald.read()),
                   timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    entries = journald.read()
    bad = next(e for e in entries if "quarantined" in e["MESSAGE"])
    assert bad["PRIORITY"] == "4" and bad["CAMERA"] == "bench-a"
    assert bad["CODE_FILE"].endswith(os.path.join("sources", "quarantine.py"))
    stopped = next(e for e in entries if e["MESSAGE"] == "stopped")
    assert stopped["PRIORITY"] == "6"
    assert {e["SYSLOG_IDENTIFIER"] for e in entries} == {"fieldagent"}
    assert "stopped" not in err  # the journal has the records; stderr does not repeat them


def test_a_log_file_only_when_the_config_asks(tmp_path: Path, journald: FakeJournald,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldagent.service.config import LoggingConfig

    monkeypatch.setenv("FIELDAGENT_JOURNAL_SOCKET", str(journald.path))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("json", "INFO", LoggingConfig(target="journal", file="agent.log"),
                      tmp_path / "site.yaml")
        logging.getLogger("fieldagent.test").warning("to both")
        for h in root.handlers:
            h.flush()
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:], root.level = saved
    assert '"message": "to both"' in (tmp_path / "agent.log").read_text()
    assert [e["MESSAGE"] for e in journald.read()] == ["to both"]


@pytest.mark.skipif(not shutil.which("journalctl") or not Path(
    "/run/systemd/journal/socket").exists(), reason="no running journald on this machine")
def test_the_real_journal_has_the_entry() -> None:
    import uuid

    mark = uuid.uuid4().hex
    handler = JournalHandler("fieldagent-test")
    handler.emit(logging.makeLogRecord({"msg": mark, "levelno": logging.WARNING}))
    handler.close()

    def found() -> bool:
        out = subprocess.run(["journalctl", "-o", "cat", "-p", "warning",
                              "SYSLOG_IDENTIFIER=fieldagent-test", f"MESSAGE={mark}"],
                             capture_output=True, text=True, check=False).stdout
        return mark in out

    wait_until(found, timeout=10)


def test_auto_means_the_journal_only_when_stderr_is_the_journal_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(tmp_path / "stream", "w") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        st = os.fstat(stream.fileno())
        assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not stderr_is_journal({})  # a terminal, a pipe, a test: plain lines


def test_without_the_socket_the_line_goes_to_stderr_with_its_priority(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = JournalHandler(path=str(tmp_path / "no-journald-here"))
    handler.emit(logging.makeLogRecord({"msg": "still seen", "levelno": logging.ERROR}))
    handler.close()
    assert capsys.readouterr().err == "<3>still seen\n"


def test_a_log_file_in_a_missing_folder_is_refused_with_its_key(tmp_path: Path) -> None:
    from fieldagent.errors import ConfigError
    from fieldagent.service.config import LoggingConfig

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        with pytest.raises(ConfigError, match=r"site.yaml: logging.file: nowhere/agent.log: "
                                              r"cannot append to it"):
            setup_logging("text", "INFO", LoggingConfig(target="stderr",
                                                        file="nowhere/agent.log"),
                          tmp_path / "site.yaml")
    finally:
        root.handlers[:], root.level = saved
