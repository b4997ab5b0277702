"""The daemon's aiohttp application: its routes, and nothing else."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from runner.daemon.api import JobsApi
from runner.daemon.demo import DemoApi
from runner.daemon.http_errors import error_response
from runner.daemon.webhooks import WebhookHandler
from runner.metrics import CONTENT_TYPE_LATEST

MAX_REQUEST_BYTES = 64 * 1024 * 1024  # webhooks enforce their own, smaller `max_body`


def create_app(daemon: Any) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_route("*", "/webhooks/{path:.+}", WebhookHandler(daemon))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz(daemon))
    app.router.add_get("/metrics", _metrics(daemon))
    app.router.add_get("/oauth/callback", _oauth_callback(daemon))
    JobsApi(daemon).add_routes(app)
    if daemon.settings.demo:
        daemon.demo.add_routes(app)
    return app


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
        try:
            daemon.metrics.queue_depth.set(await daemon.store.queue_depth())
        except Exception:  # a metrics scrape never fails because the store is slow
            pass
        return web.Response(body=daemon.metrics.render(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
    return handler


def _oauth_callback(daemon: Any) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        complete = getattr(daemon, "complete_oauth", None)
        if complete is None:
            return error_response(404, "no-flow", "no OAuth2 authorization is in progress")
        return await complete(request)  # type: ignore[no-any-return]
    return handler
