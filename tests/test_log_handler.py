"""The daemon's log handler: a turn's lines go out together at the end of the turn, in order,
and nothing waits when no event loop runs (threads, logging's flush at exit)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest

from runner.logs import JsonFormatter, TextFormatter, TurnHandler, log_fields
from runner.redact import RedactingFilter, Redactor


class CountingStream(io.StringIO):
    """A stream that counts its writes, as a pipe would count system calls."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, CountingStream]]:
    stream = CountingStream()
    handler = TurnHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("runner.test.turns")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_the_lines_of_one_turn_go_out_in_one_write_in_order(logged) -> None:
    logger, stream = logged
    for n in range(50):
        logger.info("job succeeded", extra={"n": n})
    assert stream.writes == 0  # still in the turn that logged them
    await asyncio.sleep(0)
    assert stream.writes == 1
    assert [line["n"] for line in lines(stream)] == list(range(50))
    logger.warning("next turn")
    await asyncio.sleep(0)
    assert stream.writes == 2 and lines(stream)[-1]["message"] == "next turn"


def test_without_a_running_loop_each_line_goes_out_at_once(logged) -> None:
    logger, stream = logged
    logger.info("first")
    assert lines(stream)[0]["message"] == "first"
    done = threading.Event()
    threading.Thread(target=lambda: (logger.info("from a thread"), done.set())).start()
    assert done.wait(5)
    assert [line["message"] for line in lines(stream)] == ["first", "from a thread"]


async def test_a_line_from_another_thread_is_not_held_until_the_loop_turns(logged) -> None:
    logger, stream = logged
    await asyncio.to_thread(logger.info, "from the store's thread")
    assert lines(stream)[0]["message"] == "from the store's thread"


async def test_flush_at_exit_writes_what_waits_when_the_loop_is_gone(logged) -> None:
    logger, stream = logged
    logger.info("last words")
    handler = logger.handlers[0]
    # logging.shutdown flushes from outside any loop; simulate that from a thread
    await asyncio.to_thread(handler.flush)
    assert lines(stream)[0]["message"] == "last words"


# `log_fields`: the per-job line made without a LogRecord when the daemon's handler alone sees it.

SECRET = "s3cr3t-token-value"


@pytest.fixture
def daemon_logging() -> Iterator[tuple[logging.Logger, CountingStream, TurnHandler]]:
    """The set-up `runner.logs.configure` makes (JSON, redacting), on a logger of its own."""
    stream = CountingStream()
    handler = TurnHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor([SECRET])))
    logger = logging.getLogger("runner.test.fields")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield logger, stream, handler
    logger.removeHandler(handler)
    logger.propagate = True
    logger.filters.clear()


def alone(logger: logging.Logger, handler: logging.Handler) -> None:
    """Detaches the capture handlers pytest attaches to non-propagating loggers for each test
    phase, so the logger is set up as in the daemon (pytest detaches its own again itself)."""
    for other in [h for h in logger.handlers if h is not handler]:
        logger.removeHandler(other)


def _fields() -> dict:
    return {"job": "j1", "recipe": "r", "status": "failed", "error": f"401 for {SECRET}",
            "steps": 2, "detail": {"token": SECRET, "n": [1.5, None]}, "_private": 1}


async def test_log_fields_writes_the_line_logging_would_redacted_the_same_way(
    daemon_logging,
) -> None:
    logger, stream, handler = daemon_logging
    alone(logger, handler)
    logger.warning(f"job failed with {SECRET}", extra=_fields())
    with counting_records() as made:
        log_fields(logger, logging.WARNING, f"job failed with {SECRET}", _fields())
    assert made == []  # the line was made without a LogRecord
    await asyncio.sleep(0)
    assert stream.writes == 1  # both lines in the turn's one write, in order
    via_logging, direct = lines(stream)
    for line in (via_logging, direct):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line.pop("time"))
    assert direct == via_logging
    assert list(direct) == list(via_logging)  # same key order too
    assert SECRET not in stream.getvalue()
    assert direct["error"] == "401 for ***" and direct["detail"] == {"token": "***", "n": [1.5, None]}
    assert "_private" not in direct


@contextlib.contextmanager
def counting_records() -> Iterator[list[logging.LogRecord]]:
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counted(*args, **kwargs) -> logging.LogRecord:
        made.append(record := factory(*args, **kwargs))
        return record

    logging.setLogRecordFactory(counted)
    try:
        yield made
    finally:
        logging.setLogRecordFactory(factory)


async def test_log_fields_respects_levels(daemon_logging) -> None:
    logger, stream, handler = daemon_logging
    alone(logger, handler)
    log_fields(logger, logging.DEBUG, "hidden", {"job": "j"})
    handler.setLevel(logging.ERROR)
    log_fields(logger, logging.WARNING, "below the handler's level", {"job": "j"})
    handler.setLevel(logging.NOTSET)
    log_fields(logger, logging.INFO, "shown", {"job": "j"})
    await asyncio.sleep(0)
    assert [line["message"] for line in lines(stream)] == ["shown"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_any_other_set_up_gets_a_real_record(daemon_logging) -> None:
    logger, stream, handler = daemon_logging
    alone(logger, handler)
    other = Collect()
    logger.addHandler(other)  # e.g. pytest's caplog, or an embedding application's handler
    with counting_records() as made:
        log_fields(logger, logging.INFO, "seen by both", {"job": "j1"})
    logger.removeHandler(other)
    assert len(made) == 1
    assert other.records[0].job == "j1" and other.records[0].getMessage() == "seen by both"

    logger.addFilter(lambda record: record.job != "dropped")  # a logger filter still applies
    log_fields(logger, logging.INFO, "filtered", {"job": "dropped"})
    logger.filters.clear()

    handler.setFormatter(TextFormatter())  # text on a terminal
    log_fields(logger, logging.INFO, "as text", {"job": "j2"})
    await asyncio.sleep(0)
    out = stream.getvalue().splitlines()
    assert json.loads(out[0])["message"] == "seen by both"
    assert len(out) == 2 and out[1].endswith("as text  job=j2")


async def test_a_field_json_cannot_hold_is_written_as_text(daemon_logging) -> None:
    logger, stream, handler = daemon_logging
    alone(logger, handler)
    with counting_records() as made:
        log_fields(logger, logging.INFO, "odd", {"when": object, "big": 2**70})
    assert made == []
    await asyncio.sleep(0)
    line = lines(stream)[0]
    assert line["when"] == str(object) and line["big"] == 2**70
