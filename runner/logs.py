"""Logging set-up: JSON lines on stdout for containers, readable text on a terminal, redacted.

Structured fields travel in `extra=` (`job`, `recipe`, `step`, `status`, `duration_ms`, ...) and
become keys of the JSON line. A `RedactingFilter` on the handler hides every secret value.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from runner.jsoncodec import dumps_loose
from runner.redact import RedactingFilter, Redactor

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName",
}


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback: the text the redacting filter already cleaned, when there is one."""
    if record.exc_text:
        return record.exc_text
    return formatter.formatException(record.exc_info) if record.exc_info else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info or record.exc_text:
            entry["exception"] = _traceback(self, record)
        return dumps_loose(entry)


class TextFormatter(logging.Formatter):
    """`time level message key=value ...` for people watching a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")
        )
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{stamp} {record.levelname.lower():7} {record.getMessage()}"
        if extras:
            line += f"  {extras}"
        if record.exc_info or record.exc_text:
            line += "\n" + _traceback(self, record)
        return line


def configure(redactor: Redactor, fmt: str = "auto", level: str = "info") -> None:
    """Routes the `runner` loggers (and aiohttp's) to stdout through redaction."""
    handler = logging.StreamHandler(sys.stdout)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(RedactingFilter(redactor))
    # Fields no line shows, skipped as the logging docs' optimisation notes suggest: finding the
    # caller's file and line costs more than formatting the whole line.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
