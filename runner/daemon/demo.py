"""The demo API the bundled recipes talk to, served by the daemon itself under /demo/.

`POST /demo/echo/<anything>` answers with what it received; `GET /demo/items` lists records that
change over time (a new item every minute, and item 1 updated every two minutes), so the bundled
poller has new and updated records to emit with no outside service.

The items are a function of the wall clock, not of when the daemon started, so a restart finds
the same items with the same `updated` values and the bundled poller emits nothing twice (its
promise): each minute has its item (its id is the minute's number), the list shows the last
three, and item 1 is updated every two minutes. A first poll so finds four items, not a backlog.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

NEW_ITEM_EVERY = 60
UPDATE_EVERY = 120
SHOWN = 3  # minute items in the list


class DemoApi:
    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
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
        now = int(self.clock())
        minute = now // NEW_ITEM_EVERY
        items: list[dict[str, Any]] = [
            {"id": 1, "title": "Demo item 1", "updated": now - now % UPDATE_EVERY},
            *({"id": m, "title": f"Demo item {m}", "updated": m * NEW_ITEM_EVERY}
              for m in range(minute - SHOWN + 1, minute + 1)),
        ]
        since = request.query.get("since")
        if since and since.isdigit():
            items = [item for item in items if item["updated"] > int(since)]
        items.sort(key=lambda item: (int(item["updated"]), int(item["id"])))
        return web.json_response({"items": items})

