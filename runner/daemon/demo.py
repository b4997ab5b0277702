"""The demo API the bundled recipes talk to, served by the daemon itself under /demo/.

`POST /demo/echo/<anything>` answers with what it received; `GET /demo/items` lists records that
change over time (a new item every minute, and item 1 updated every two minutes), so the bundled
poller has new and updated records to emit with no outside service.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

NEW_ITEM_EVERY = 60
UPDATE_EVERY = 120


class DemoApi:
    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self.started = clock()
        self.received: list[dict[str, Any]] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/demo/echo/{tail:.*}", self.echo)
        app.router.add_get("/demo/items", self.items)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload: Any = await request.json() if body else None
        except ValueError:
            payload = body.decode("utf-8", errors="replace")
        entry = {"method": request.method, "path": request.path, "json": payload,
                 "idempotency_key": request.headers.get("Idempotency-Key")}
        self.received = [*self.received[-99:], entry]
        return web.json_response(entry, status=201 if request.method == "POST" else 200)

    async def items(self, request: web.Request) -> web.Response:
        elapsed = int(self.clock() - self.started)
        count = 3 + elapsed // NEW_ITEM_EVERY
        items: list[dict[str, Any]] = [
            {"id": i, "title": f"Demo item {i}",
             "updated": self._updated(i, elapsed)}
            for i in range(1, count + 1)
        ]
        since = request.query.get("since")
        if since and since.isdigit():
            items = [item for item in items if item["updated"] > int(since)]
        items.sort(key=lambda item: (int(item["updated"]), int(item["id"])))
        return web.json_response({"items": items})

    def _updated(self, item: int, elapsed: int) -> int:
        created = int(self.started) + max(0, item - 3) * NEW_ITEM_EVERY
        if item == 1:
            return int(self.started) + (elapsed // UPDATE_EVERY) * UPDATE_EVERY
        return created
