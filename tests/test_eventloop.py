"""`RUNNER_EVENT_LOOP` picks the loop `runner serve` runs on."""

import asyncio

import pytest

from runner.daemon.settings import Settings
from runner.eventloop import run_loop, running_loop_name


async def _name() -> str:
    await asyncio.sleep(0)
    return running_loop_name()


def test_uvloop_by_default() -> None:
    pytest.importorskip("uvloop", reason="uvloop is a dependency on Linux and macOS only")
    assert Settings.from_env({}).event_loop == "uvloop"
    assert run_loop(_name(), "uvloop") == "uvloop"


def test_the_standard_loop_on_request() -> None:
    assert Settings.from_env({"RUNNER_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    assert run_loop(_name(), "asyncio") == "asyncio"


def test_an_unknown_loop_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match="RUNNER_EVENT_LOOP: expected one of uvloop, asyncio"):
        Settings.from_env({"RUNNER_EVENT_LOOP": "trio"})
