"""Logging set-up: JSON lines on stdout for containers, readable text on a terminal, redacted.

Structured fields travel in `extra=` (`job`, `recipe`, `step`, `status`, `duration_ms`, ...) and
become keys of the JSON line. A `RedactingFilter` on the handler hides every secret value.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from runner.clock import utc_iso_millis, utc_now_iso_millis
from runner.jsoncodec import dumps_loose
from runner.log_fields import extra_keys
from runner.redact import RedactingFilter, Redactor


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback: the text the redacting filter already cleaned, when there is one."""
    if record.exc_text:
        return record.exc_text
    return formatter.formatException(record.exc_info) if record.exc_info else ""


_LEVEL_NAMES = {
    level: logging.getLevelName(level).lower()
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        entry = json_entry(
            utc_iso_millis(record.created), record.levelname.lower(), record.name,
            record.getMessage(), ((key, fields[key]) for key in extra_keys(record)),
        )
        if record.exc_info or record.exc_text:
            entry["exception"] = _traceback(self, record)
        return dumps_loose(entry)


def json_entry(
    stamp: str, level: str, logger: str, message: str, fields: Iterable[tuple[str, Any]]
) -> dict[str, Any]:
    """A JSON line's object: its four keys, then the structured fields (underscored ones left
    out). Both ways a line is made (`JsonFormatter`, `TurnHandler.write_fields`) build it here,
    so they cannot drift apart."""
    entry: dict[str, Any] = {"time": stamp, "level": level, "logger": logger, "message": message}
    for key, value in fields:
        if not key.startswith("_"):
            entry[key] = value
    return entry


class TextFormatter(logging.Formatter):
    """`time level message key=value ...` for people watching a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        extras = " ".join(f"{k}={fields[k]}" for k in extra_keys(record) if not k.startswith("_"))
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{stamp} {record.levelname.lower():7} {record.getMessage()}"
        if extras:
            line += f"  {extras}"
        if record.exc_info or record.exc_text:
            line += "\n" + _traceback(self, record)
        return line


class TurnHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the lines of one event-loop turn to the stream together, at the end of the turn.

    Why: a busy daemon logs a line per job, and `StreamHandler` writes and flushes each one, a
    system call per line (in a container stdout is unbuffered: PYTHONUNBUFFERED). Lines logged
    while the loop runs a turn wait, in order, until the callbacks already due have run (no
    timer: `call_soon`), then go out in one write. Lines from a thread with no running loop, and
    whatever is waiting at `flush` outside a loop (logging's own at exit), go out at once. A
    kill -9 can lose the lines of the turn in progress; job history, in the store, loses nothing.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._lines: list[str] = []  # guarded by the handler's own (reentrant) lock
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        """Called by `Handler.handle` with the handler's lock held."""
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 -- logging's rule: a bad record never breaks the caller
            self.handleError(record)
            return
        self._add(line)

    def write_fields(self, level: int, logger: str, message: str, fields: dict[str, Any]) -> bool:
        """The line `JsonFormatter` would make of such a record, redacted as the handler's
        filters would (see `log_fields`). False when the fields cannot be written this way."""
        for redacting in self.filters:
            message = redacting.redact_fields(message, fields)  # type: ignore[union-attr]
        name = _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower()
        entry = json_entry(utc_now_iso_millis(), name, logger, message, fields.items())
        try:
            line = dumps_loose(entry)
        except Exception:  # noqa: BLE001 -- the caller logs it the usual way, errors and all
            return False
        with self.lock:  # type: ignore[union-attr]
            self._add(line)
        return True

    def _add(self, line: str) -> None:
        """Queues a line for the end of this loop turn (at once off the loop); lock held."""
        self._lines.append(line + self.terminator)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop's thread: write it now
            self._write_pending()
            return
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._write_pending)

    def flush(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._write_pending()  # no loop to wait for (logging's flush at exit, a thread)

    def _write_pending(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            lines, self._lines, self._scheduled = self._lines, [], False
            if not lines:
                return
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):  # a closed stdout: there is nowhere left to log to
                pass


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, message, extra=fields)`, for a line the daemon writes per job.

    Why: when the one handler that would see the line is the daemon's own (a `TurnHandler`
    with `JsonFormatter` and redaction, as `configure` sets up), the line is made straight
    from `fields`: the same text, redacted the same way, without a `LogRecord` and logging's
    dispatch around it, which cost about three quarters of the 73,000 instructions of a
    job's line (a `respond: sync` webhook is about 1.4 million). Any other set-up (a test's
    `caplog`, an embedding application's handlers, text on a terminal, a logger filter) gets
    the record through `logging` as usual. `fields` may be changed (redacted in place).
    """
    if not logger.isEnabledFor(level):
        return
    handler = _sole_json_handler(logger, level)
    if handler is None or not handler.write_fields(level, logger.name, message, fields):
        logger.log(level, message, extra=fields)


def _sole_json_handler(logger: logging.Logger, level: int) -> TurnHandler | None:
    """The daemon's JSON handler when it is the only handler a record of `logger` would reach
    and nothing on the way (a logger filter, a handler level) would act on the record."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        if current.handlers:
            handlers += current.handlers
        if not current.propagate:
            break
        current = current.parent
    if len(handlers) != 1:
        return None
    found = handlers[0]
    if type(found) is not TurnHandler or level < found.level:
        return None
    if type(found.formatter) is not JsonFormatter:
        return None
    for kept in found.filters:
        if type(kept) is not RedactingFilter:
            return None
    return found


def configure(redactor: Redactor, fmt: str = "auto", level: str = "info") -> None:
    """Routes the `runner` loggers (and aiohttp's) to stdout through redaction."""
    handler = TurnHandler(sys.stdout)
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
