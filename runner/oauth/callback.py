"""The authorization callback: checking its query, and the one-shot listener of `runner connect`.

The listener serves exactly the redirect_uri's path on its host and port. The first request to
that path decides the attempt: the browser's request is held open until the code exchange is
done, so the page it shows says whether the connection is authorized. Other paths get 404.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import re
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from aiohttp import web
from yarl import URL

from runner.errors import AuthError

__all__ = ["CallbackListener", "code_from_callback", "page"]

_PRINTABLE = re.compile(r"[^\x20-\x7e]")
PAGE_WAIT = 60.0  # how long the browser's request may wait for the exchange to finish


def code_from_callback(query: Mapping[str, str], state: str, connection: str) -> str:
    """The authorization code, or AuthError saying plainly why there is none (nothing is stored)."""
    error = query.get("error")
    if error:
        detail = _clean(query.get("error_description", ""))
        hint = " (you or the provider declined the request)" if error == "access_denied" else ""
        raise AuthError(
            f"the provider refused to authorize connection {connection}: {_clean(error)}"
            f"{': ' + detail if detail else ''}{hint}; nothing was stored"
        )
    received = query.get("state", "")
    if not hmac.compare_digest(received.encode(), state.encode()):
        raise AuthError(
            f"the callback's state does not match this authorization of connection {connection} "
            "(it belongs to another or an older attempt, or was forged); nothing was stored. "
            f"Run `runner connect {connection}` again and open the new URL"
        )
    code = query.get("code")
    if not code:
        raise AuthError("the callback has no authorization code; nothing was stored")
    return code


def _clean(value: str) -> str:
    return _PRINTABLE.sub(" ", value)[:300].strip()


def page(ok: bool, message: str) -> web.Response:
    """The small page the browser shows at the end of an authorization."""
    title = "Connected" if ok else "Authorization failed"
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>runner: {title}</title></head>"
        f"<body><h1>{title}</h1><p>{html.escape(message)}</p>"
        "<p>You can close this tab.</p></body></html>"
    )
    return web.Response(
        status=200 if ok else 400, text=body, content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


class CallbackListener:
    """Listens on the redirect_uri until one callback arrives: `async with` it, then `wait()`."""

    def __init__(self, redirect_uri: str) -> None:
        url = URL(redirect_uri)
        if url.scheme != "http" or not url.host:
            raise AuthError(
                f"runner connect listens on plain http, but redirect_uri is {redirect_uri}: use "
                "an http://127.0.0.1:PORT/... redirect URI, or --via-server with a running daemon"
            )
        self.host, self.port = url.host, url.port or 80
        self.path = url.path or "/"
        self._query: asyncio.Future[dict[str, str]] | None = None
        self._outcome: asyncio.Future[tuple[bool, str]] | None = None
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._query, self._outcome = loop.create_future(), loop.create_future()
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from exc
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result((False, str(exc) if exc else "the authorization was stopped"))
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait(self, timeout: float) -> dict[str, str]:
        """The first callback's query parameters; TimeoutError after `timeout` seconds."""
        assert self._query is not None, "use `async with CallbackListener(...)` first"
        return await asyncio.wait_for(asyncio.shield(self._query), timeout)

    def finish(self, ok: bool, message: str) -> None:
        """Tells the waiting browser how the attempt ended."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result((ok, message))

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._query is not None and self._outcome is not None
        if self._query.done():
            return page(False, "This authorization attempt is already over; start a new one.")
        self._query.set_result(dict(request.query))
        try:
            ok, message = await asyncio.wait_for(asyncio.shield(self._outcome), PAGE_WAIT)
        except TimeoutError:
            ok, message = False, "runner did not finish in time; see its output."
        return page(ok, message)
