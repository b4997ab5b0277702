"""Real servers on 127.0.0.1 for tests: httpbin in a thread, any aiohttp app, a recording sink."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, MultiDict
from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = [
    "RecordedRequest",
    "RecordingSink",
    "Reply",
    "httpbin_server",
    "serve_app",
    "start_app",
]

# Cleanup waits this long for handlers still running (a scripted delay), not aiohttp's 60 s.
SHUTDOWN_TIMEOUT = 1.0


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its access log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def httpbin_server() -> Iterator[str]:
    """Serve httpbin on a free port in a background thread; yield its base URL."""
    from httpbin import app  # Flask is slow to import: only when a test wants httpbin

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="httpbin", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def start_app(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Run an aiohttp app on a free port of 127.0.0.1; return its base URL and a cleanup."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    except BaseException:
        await runner.cleanup()
        raise
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context is not None else "http"
    return f"{scheme}://127.0.0.1:{port}", runner.cleanup


@asynccontextmanager
async def serve_app(
    app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """`start_app` as an async context manager yielding the base URL."""
    base_url, cleanup = await start_app(app, ssl_context)
    try:
        yield base_url
    finally:
        await cleanup()


_NO_JSON: Any = object()


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `json` wins over `body`; with neither, the body is empty.

    `reset` closes the connection with a TCP RST instead of answering; `malformed_json` sends
    a truncated JSON document labelled `application/json`; `delay` (seconds) comes first.
    """

    status: int = 200
    json: Any = _NO_JSON
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0
    reset: bool = False
    malformed_json: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """What the sink received, copied out of aiohttp's request."""

    method: str
    path: str
    query: MultiDict[str]
    headers: CIMultiDict[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def _reset(request: web.Request) -> None:
    """Abort the connection with RST (SO_LINGER 0), as a crashed or hostile peer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _response(reply: Reply) -> web.Response:
    """The scripted answer; an explicit content_type, or a Content-Type header, wins."""
    if reply.malformed_json:
        body, content_type = b'{"truncated": [1, 2', "application/json"
    elif reply.json is not _NO_JSON:
        body, content_type = json.dumps(reply.json).encode(), "application/json"
    else:
        raw = reply.body
        body, content_type = (raw.encode() if isinstance(raw, str) else raw), "text/plain"
    headers = CIMultiDict(reply.headers)
    if "Content-Type" in headers:
        return web.Response(status=reply.status, body=body, headers=headers)
    content_type = reply.content_type or content_type
    return web.Response(status=reply.status, body=body, headers=headers, content_type=content_type)


class RecordingSink:
    """An upstream that records every request and answers from per-path scripts.

    `script("/path", Reply(503, headers={"Retry-After": "1"}), Reply(200, json={...}))` queues
    answers for that path (or for `"POST /path"`, which is looked up first); when a queue is
    empty, `default` answers. Every request is recorded before its answer, delays and resets
    included, so a test can count attempts.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default if default is not None else Reply(json={"ok": True})
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[Reply]] = {}

    def script(self, path: str, *replies: Reply) -> None:
        self._scripts.setdefault(path, deque()).extend(replies)

    def for_path(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least `count` requests arrived; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} of {count} requests after {timeout}s")
            await asyncio.sleep(0.01)
        return self.requests

    def _next_reply(self, method: str, path: str) -> Reply:
        for key in (f"{method} {path}", path):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return self.default

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=MultiDict(request.query),
                headers=CIMultiDict(request.headers),
                body=body,
            )
        )
        reply = self._next_reply(request.method, request.path)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.reset:
            _reset(request)
            return web.Response()  # never sent: the transport is gone
        return _response(reply)
