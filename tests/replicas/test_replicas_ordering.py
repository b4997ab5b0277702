"""`concurrency: 1` across replicas: one job at a time, in the order the webhooks were accepted.

The webhooks go to the three replicas in turn, each sent once the previous one was acknowledged,
so their enqueue order is their sending order whichever replica stored them. A burst builds a
backlog the replicas compete for; paced ones after it let each replica claim the job it accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.daemon.conftest import ThreadedApp, until, write
from tests.replicas.conftest import Replica, Shared

JOBS = 45
BURST = 30  # the first webhooks go back to back, a backlog every replica claims from
PACE = 0.1  # seconds between the later ones
DOCUMENTS = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: ordered
concurrency: 1
trigger: {webhook: {path: ordered}}
steps:
  - id: deliver
    request: {connection: sink, method: POST, url: /ordered, json: {n: "{{ trigger.body.n }}"}}
"""


class OrderSink:
    """Records each delivered `n` in arrival order, and the most requests it ever had at once."""

    def __init__(self) -> None:
        self.arrivals: list[int] = []
        self.inside = self.most = 0
        app = web.Application()
        app.router.add_post("/ordered", self._deliver)
        self.server = ThreadedApp(app)

    async def _deliver(self, request: web.Request) -> web.Response:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            self.arrivals.append((await request.json())["n"])
            await asyncio.sleep(0.01)  # a window in which a second job would overlap
            return web.json_response({"ok": True})
        finally:
            self.inside -= 1


@pytest.fixture
def order_sink() -> Iterator[OrderSink]:
    sink = OrderSink()
    yield sink
    sink.server.close()


async def test_concurrency_one_runs_jobs_one_at_a_time_in_enqueue_order_across_replicas(
    tmp_path: Path,
    order_sink: OrderSink,
    shared: Shared,
    replicas: Callable[..., Replica],
    capsys: pytest.CaptureFixture[str],
) -> None:
    documents = [write(tmp_path / "ordered.yaml", DOCUMENTS, SINK=order_sink.server.url)]
    group = [replicas(documents, f"o{i}", 4).start_quietly() for i in range(3)]
    for replica in group:
        await asyncio.to_thread(replica.wait_ready)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        for n in range(JOBS):
            url = f"{group[n % 3].url}/webhooks/ordered"
            async with client.post(url, json={"n": n}) as response:
                assert response.status == 202, await response.text()
            if n >= BURST:  # paced: the queue drains, so the replica that accepts claims too
                await asyncio.sleep(PACE)
    await until(lambda: len(order_sink.arrivals) >= JOBS, 30, f"{JOBS} deliveries")
    runners = {
        row["owner"].split("/")[0]
        for row in await shared.rows("SELECT owner FROM jobs WHERE recipe = 'ordered'")
    }
    with capsys.disabled():
        print(
            f"\nconcurrency 1 across replicas: {JOBS} jobs, run by {sorted(runners)}, "
            f"at most {order_sink.most} at once"
        )
    assert order_sink.arrivals == list(range(JOBS))
    assert order_sink.most == 1
    assert len(runners) > 1, "one replica ran every job: nothing was shown across replicas"
