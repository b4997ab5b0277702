"""The daemon's log handler: a turn's lines go out together at the end of the turn, in order,
and nothing waits when no event loop runs (threads, logging's flush at exit)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from runner.logs import JsonFormatter, TurnHandler


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
