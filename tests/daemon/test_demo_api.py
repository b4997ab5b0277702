"""The demo API the bundled recipes poll: its items depend on the wall clock, not on when the
daemon started, so a restart does not make the bundled poller emit anything twice, and a first
poll finds a handful of items, not a backlog."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from runner.daemon.demo import DemoApi

NOON = 1_764_417_600  # 2025-11-29 12:00:00 UTC


async def items(aiohttp_client: Any, clock: Any, since: int = 0) -> list[dict[str, Any]]:
    app = web.Application()
    DemoApi(clock).add_routes(app)
    client = await aiohttp_client(app)
    async with client.get("/demo/items", params={"since": str(since)}) as response:
        return (await response.json())["items"]


async def test_a_restart_sees_the_same_items_and_time_adds_new_ones(aiohttp_client: Any) -> None:
    first = await items(aiohttp_client, lambda: NOON + 5)
    assert await items(aiohttp_client, lambda: NOON + 30) == first  # a new DemoApi: a restart
    assert len(first) == 4  # item 1 and the last three minutes' items
    cursor = max(item["updated"] for item in first)
    later = await items(aiohttp_client, lambda: NOON + 130, since=cursor)
    assert [(i["id"], i["updated"]) for i in later] == [  # in the order they changed
        (NOON // 60 + 1, NOON + 60), (1, NOON + 120), (NOON // 60 + 2, NOON + 120)]
