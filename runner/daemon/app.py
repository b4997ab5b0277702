"""The daemon's aiohttp application: its routes, and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from runner.daemon.api import JobsApi
from runner.daemon.http_errors import error_response
from runner.daemon.webhooks import WebhookHandler
from runner.metrics import CONTENT_TYPE_LATEST
from runner.ui.pages import Pages

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # webhooks enforce their own, smaller `max_body`
STORE_TIMEOUT = 2.0  # seconds a scrape waits for the queue depth
_PASSED_ON = ("Allow",)  # headers of aiohttp's own errors kept on the JSON version


def create_app(daemon: Any) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[_json_errors])
    # A coroutine function, not a callable object: aiohttp wraps anything else in a
    # compatibility shim that costs a coroutine level on every webhook.
    webhooks = WebhookHandler(daemon)
    app.router.add_route("*", "/webhooks/{path:.+}", webhooks.handle, expect_handler=webhooks.expect)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz(daemon))
    app.router.add_get("/metrics", _metrics(daemon))
    app.router.add_get("/oauth/callback", _oauth_callback(daemon))
    JobsApi(daemon).add_routes(app)
    if daemon.settings.ui and daemon.access.mode != "off":
        Pages(daemon).add_routes(app)
    if daemon.settings.demo:
        daemon.demo.add_routes(app)
    return app


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's own errors (unknown route, wrong method) and crashes in the one JSON shape."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = "-".join(exc.reason.lower().split()) or "http-error"
        message = f"{request.method} {request.path}: {exc.reason}"
        response = error_response(exc.status, code, message)
        for name in _PASSED_ON:
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except (ConnectionResetError, RequestPayloadError) as exc:
        # The client went away mid-request (or sent a body that cannot be read): its doing,
        # not the runner's, so no error-level traceback that would page someone.
        log.info("client went away mid-request", extra={"path": request.path,
                                                         "reason": f"{type(exc).__name__}: {exc}"})
        return error_response(400, "bad-request", "the request could not be read")
    except Exception:
        log.exception("request failed", extra={"path": request.path})
        return error_response(500, "internal-error", "the request failed; see the runner's log")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _readyz(daemon: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        store_ok = await daemon.store_ready()
        loaded = daemon.active is not None
        body = {"status": "ready" if store_ok and loaded and daemon.accepting else "not-ready",
                "store": store_ok, "documents_loaded": loaded, "accepting": daemon.accepting}
        return web.json_response(body, status=200 if body["status"] == "ready" else 503)
    return handler


def _metrics(daemon: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        with contextlib.suppress(Exception):  # a scrape never fails because the store does
            depth = await asyncio.wait_for(daemon.store.queue_depth(), STORE_TIMEOUT)
            daemon.metrics.queue_depth.set(depth)
        return web.Response(body=daemon.metrics.render(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
    return handler


def _oauth_callback(daemon: Any) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await daemon.complete_oauth(request)  # type: ignore[no-any-return]
    return handler
