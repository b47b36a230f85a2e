"""Log records straight to the systemd journal over its native protocol.

Why the native protocol and not ``<N>``-prefixed lines on stdout: each record arrives as
one entry with its priority, its source line and its camera as separate fields
(``journalctl -u fieldagent -p warning CAMERA=bench-a``), and a traceback stays one entry
instead of one per line. The protocol is a datagram of ``KEY=value`` lines to
``/run/systemd/journal/socket``; a value with a newline goes as ``KEY\\n``, its length as
64-bit little-endian, the bytes and ``\\n``. A datagram too large for the socket goes as a
sealed memfd passed with ``SCM_RIGHTS``, as ``sd_journal_send`` does. ``systemd-python``
would do the same but needs libsystemd headers to build on the device; this is 80 lines.
"""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import os
import socket
import sys
from collections.abc import Mapping

DEFAULT_SOCKET = "/run/systemd/journal/socket"
SOCKET_ENV = "FIELDAGENT_JOURNAL_SOCKET"

#: Python levels to syslog priorities (``journalctl -p``): the nearest level at or above.
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
              (logging.INFO, 6), (logging.DEBUG, 7))

#: Record attributes (``log.warning(..., extra={"camera": cam})``) sent as journal fields.
STRUCTURED = ("camera", "zone", "site", "image")


def priority(levelno: int) -> int:
    """The syslog priority of a Python log level: CRITICAL 2, ERROR 3, WARNING 4, INFO 6,
    DEBUG 7; a custom level maps as the standard level just below it."""
    for level, prio in PRIORITIES:
        if levelno >= level:
            return prio
    return 7


def encode(fields: Mapping[str, str]) -> bytes:
    """One journal entry in the native protocol's wire format."""
    out = bytearray()
    for key, value in fields.items():
        raw = value.encode("utf-8", "replace")
        if b"\n" in raw:
            out += key.encode() + b"\n" + len(raw).to_bytes(8, "little") + raw + b"\n"
        else:
            out += key.encode() + b"=" + raw + b"\n"
    return bytes(out)


def stderr_is_journal(environ: Mapping[str, str] = os.environ) -> bool:
    """True when systemd connected stderr to the journal (``JOURNAL_STREAM`` names the
    device and inode of that stream; a child that inherited the variable but writes to a
    pipe or terminal does not match, as sd_journal_stream_fd's documentation advises)."""
    value = environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return value == f"{st.st_dev}:{st.st_ino}"


class JournalHandler(logging.Handler):
    """Sends each record as one journal entry; never raises into the caller's code.

    ``path`` defaults to ``$FIELDAGENT_JOURNAL_SOCKET`` or the system journal's socket.
    """

    def __init__(self, identifier: str = "fieldagent", path: str | None = None) -> None:
        super().__init__()
        self.identifier = identifier
        self.path = path or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def fields(self, record: logging.LogRecord) -> dict[str, str]:
        """The journal fields of one record."""
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatter_or_default().formatException(record.exc_info)
        out: dict[str, str | None] = {
            "MESSAGE": message, "PRIORITY": str(priority(record.levelno)),
            "SYSLOG_IDENTIFIER": self.identifier, "LOGGER": record.name,
            "CODE_FILE": record.pathname, "CODE_LINE": str(record.lineno),
            "CODE_FUNC": record.funcName, "THREAD_NAME": record.threadName}
        for name in STRUCTURED:
            value = getattr(record, name, None)
            if value is not None:
                out[name.upper()] = str(value)
        return {key: value for key, value in out.items() if value}  # a record built by hand

    def formatter_or_default(self) -> logging.Formatter:
        return self.formatter or logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = self.fields(record)
            try:
                self._send(encode(fields))
            except OSError:  # journald restarting, or no journald: the line is not lost
                self._fallback(fields)
        except Exception:  # a broken record must not stop the agent: report and go on
            self.handleError(record)

    @staticmethod
    def _fallback(fields: Mapping[str, str]) -> None:
        """The record on stderr with the sd-daemon ``<N>`` priority prefix, which journald
        reads from a service's output stream; elsewhere it is a readable line."""
        sys.stderr.write(f"<{fields['PRIORITY']}>{fields['MESSAGE']}\n")
        sys.stderr.flush()

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendto(data, self.path)
        except OSError as exc:
            if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                raise
            self._send_memfd(data)

    def _send_memfd(self, data: bytes) -> None:
        """A large entry (a long traceback): journald reads it from a sealed memfd."""
        fd = os.memfd_create("fieldagent-journal", os.MFD_ALLOW_SEALING)
        try:
            os.write(fd, data)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                        | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
            fds = array.array("i", [fd])
            self._sock.sendmsg([], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)],
                               0, self.path)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._sock.close()
        super().close()
