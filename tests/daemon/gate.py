"""An upstream that holds its first request to one path until the test opens the gate.

A step held this way is in flight for exactly as long as a test needs (while it takes the job
away from the replica running it, or stops that replica), with no sleep to tune.
"""

from __future__ import annotations

import asyncio
import threading
import time

from aiohttp import web

from tests.daemon.conftest import ThreadedApp

HOLD_LIMIT = 30.0  # seconds a held request waits at most, should a test never open the gate


class Gate:
    """Answers every request `{"ok": true}` at once, except the first one to `held`."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.seen: list[tuple[str, str]] = []  # (path, Idempotency-Key), in arrival order
        self.holding = threading.Event()  # set once the held request arrived
        self._open = threading.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = ThreadedApp(app)
        self.url = self.server.url

    def keys(self, path: str) -> list[str]:
        return [key for seen, key in self.seen if seen == path]

    def open(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.open()
        self.server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Idempotency-Key", "")))
        if request.path == self.held and not self.holding.is_set():
            self.holding.set()
            deadline = time.monotonic() + HOLD_LIMIT
            while not self._open.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return web.json_response({"ok": True, "path": request.path})

