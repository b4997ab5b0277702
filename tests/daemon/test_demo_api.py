"""The demo API the bundled recipes poll: its items depend on the wall clock, not on when the
daemon started, so a restart does not make the bundled poller emit anything twice."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from runner.daemon.demo import DemoApi

NOON = 1_764_417_600  # 2025-11-29 12:00:00 UTC


async def items(aiohttp_client: Any, clock: Any) -> list[dict[str, Any]]:
    app = web.Application()
    DemoApi(clock).add_routes(app)
    client = await aiohttp_client(app)
    async with client.get("/demo/items") as response:
        return (await response.json())["items"]


async def test_a_restart_sees_the_same_items_and_time_adds_new_ones(aiohttp_client: Any) -> None:
    before = await items(aiohttp_client, lambda: NOON + 5)
    after_restart = await items(aiohttp_client, lambda: NOON + 30)  # a new DemoApi: a restart
    assert after_restart == before
    assert len(before) == 3 + 12 * 60  # three to start the day, then one a minute
    later = await items(aiohttp_client, lambda: NOON + 130)
    assert later[-1]["id"] == len(before) + 2
    [first] = [i for i in later if i["id"] == 1]
    assert first["updated"] == NOON + 120  # item 1 changes every two minutes
