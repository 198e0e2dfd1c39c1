"""The app's own log file, which GET /api/admin/logs reads back."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOGGER_NAME = "figway"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _FigwayFileHandler(RotatingFileHandler):
    """Marks the handler this module owns, so reconfiguring replaces it."""


def configure_logging(log_file: Path, level: int = logging.INFO) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if isinstance(handler, _FigwayFileHandler):
            if Path(handler.baseFilename) == log_file.resolve():
                return
            logger.removeHandler(handler)
            handler.close()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = _FigwayFileHandler(
        log_file, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)


def tail(log_file: Path, lines: int) -> list[str]:
    """The last `lines` lines, reading from the end rather than the whole file."""
    if not log_file.exists():
        return []
    with log_file.open("rb") as fh:
        fh.seek(0, 2)
        end = fh.tell()
        block, data = 8192, b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - block)
            fh.seek(start)
            data = fh.read(end - start) + data
            end = start
    return [line.decode("utf-8", "replace") for line in data.splitlines()[-lines:]]
