"""Which asyncio event loop the daemon runs on.

uvloop (libuv under the asyncio API) does the same work as the standard loop with less CPU per
socket event: in the webhook benchmark it served about a quarter more requests per second. It is
a dependency on the platforms it supports; elsewhere, or with `RUNNER_EVENT_LOOP=asyncio`, the
standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory(name: str) -> Any:
    """The loop class for `name` (`uvloop` or `asyncio`); None means asyncio's default."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # not installed (a platform uvloop does not support)
            return None
        return uvloop.new_event_loop
    return None


def run_loop(main: Coroutine[Any, Any, T], name: str = "uvloop") -> T:
    """`asyncio.run(main)` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        return runner.run(main)


def running_loop_name() -> str:
    """What the start-up line (`listening`) reports: `uvloop` or `asyncio`."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
