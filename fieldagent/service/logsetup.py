"""Logging for the service: entries in the systemd journal (with priority, source line and
camera as fields) when systemd runs it, plain text for a person at a terminal, JSON lines
for a log shipper (one object per line: time, level, logger, message, exception text), and
a file only when the site config's ``logging.file`` asks for one."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fieldagent.errors import ConfigError
from fieldagent.service.config import LoggingConfig
from fieldagent.service.journal import JournalHandler, stderr_is_journal


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(fmt: Literal["text", "json"] = "text", level: str = "INFO",
                  where: LoggingConfig | None = None, config_path: Path | None = None) -> None:
    """Configure the root logger once for the service process.

    ``where`` is the site config's ``logging`` section (a relative ``file`` is taken from
    ``config_path``'s folder, as every path of the site config); without it the records go
    to stderr, as they do while the site config is being read.
    """
    where = where or LoggingConfig(target="stderr")
    handlers: list[logging.Handler] = []
    if where.file:  # first: a file that cannot be opened stops here, nothing half set up
        handlers.append(_with_format(_file_handler(where.file, config_path), fmt))
    handlers.insert(0, _main_handler(fmt, where))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _main_handler(fmt: Literal["text", "json"], where: LoggingConfig) -> logging.Handler:
    if where.target == "journal" or (where.target == "auto" and stderr_is_journal()):
        return JournalHandler()  # the journal keeps time and level as fields: no format
    return _with_format(logging.StreamHandler(sys.stderr), fmt)


def _file_handler(file: str, config_path: Path | None) -> logging.Handler:
    path = Path(file).expanduser()
    if config_path is not None and not path.is_absolute():
        path = config_path.resolve().parent / path
    try:
        return logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        where = config_path or "site config"
        raise ConfigError([f"{where}: logging.file: {file}: cannot append to it "
                           f"({exc.strerror}); create its folder writable by the agent, "
                           "or remove logging.file to log to the journal only"]) from exc


def _with_format(handler: logging.Handler, fmt: Literal["text", "json"]) -> logging.Handler:
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler
