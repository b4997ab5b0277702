"""One poll recipe, three replicas: one polls at a time, and another takes over when it dies.

The feed grows while the replicas poll it every 200ms. The replica holding the poll lease is
SIGKILLed and restarted; another takes over within about a lease, from the stored seen keys, and
no record becomes two jobs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.daemon.conftest import Sink, ThreadedApp, until, write
from tests.replicas.conftest import LEASE, Replica, Shared

RECORDS = 60  # the feed ends with this many records
GROW_EVERY = 0.08  # seconds between new records
KILL_AFTER = 20  # records delivered before the poll holder is killed
DOCUMENTS = """\
kind: connection
name: api
base_url: "@API@"
private_network: true
---
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: feed
concurrency: 10
trigger:
  poll:
    connection: api
    every: 200ms
    request: {method: GET, url: /items}
    records: "{{ response.body.items }}"
    key: "{{ record.id }}"
    initial: emit
steps:
  - id: forward
    request: {connection: sink, method: POST, url: /feed, json: {id: "{{ trigger.record.id }}"}}
"""


class Feed:
    """`GET /items`: every record so far; the test appends one every GROW_EVERY seconds."""

    def __init__(self) -> None:
        self.items: list[dict[str, int]] = []
        self.polls: list[float] = []  # monotonic time of every poll
        app = web.Application()
        app.router.add_get("/items", self._items)
        self.server = ThreadedApp(app)

    async def _items(self, request: web.Request) -> web.Response:
        self.polls.append(time.monotonic())
        return web.json_response({"items": list(self.items)})

    async def grow(self) -> None:
        for n in range(1, RECORDS + 1):
            self.items.append({"id": n})
            await asyncio.sleep(GROW_EVERY)


@pytest.fixture
def feed() -> Iterator[Feed]:
    api = Feed()
    yield api
    api.server.close()


async def holder(shared: Shared) -> str | None:
    return await shared.value("SELECT owner FROM poll_leases WHERE recipe = 'feed'")  # type: ignore[no-any-return]


async def test_poll_holder_killed_another_takes_over_and_no_record_is_emitted_twice(
    tmp_path: Path,
    feed: Feed,
    sink: Sink,
    shared: Shared,
    replicas: Callable[..., Replica],
    capsys: pytest.CaptureFixture[str],
) -> None:
    documents = [write(tmp_path / "feed.yaml", DOCUMENTS, API=feed.server.url, SINK=sink.url)]
    group = [replicas(documents, f"p{i}", 4).start_quietly() for i in range(3)]
    for replica in group:
        await asyncio.to_thread(replica.wait_ready)
    growing = asyncio.create_task(feed.grow())
    await until(lambda: len(set(sink.keys("/feed"))) >= KILL_AFTER, 20, f"{KILL_AFTER} records")
    dead = await holder(shared)
    assert dead is not None
    victim = next(r for r in group if dead.startswith(f"{r.name}/"))
    victim.kill()
    killed_at = time.monotonic()
    new = await until(lambda: _new_holder(shared, dead), 3 * LEASE, "another replica to poll")
    took_over = time.monotonic() - killed_at
    first_poll = await until(
        lambda: [t for t in feed.polls if t > killed_at + took_over], 5, "a poll by the new holder"
    )
    await asyncio.to_thread(victim.start)  # restarted under its name; it must not poll twice
    await asyncio.wait_for(growing, 30)
    await until(lambda: len(set(sink.keys("/feed"))) >= RECORDS, 30, "every record delivered")
    polls = len(feed.polls)
    await until(lambda: len(feed.polls) >= polls + 5, 10, "five more polls")
    await until(lambda: _idle(shared), 10, "no job queued or running")

    events = [
        json.loads(row["event"])
        for row in await shared.rows("SELECT event FROM jobs WHERE recipe = 'feed'")
    ]
    emitted = Counter(event["record"]["id"] for event in events)
    delivered = Counter(r.json()["id"] for r in sink.for_path("/feed"))
    keys = Counter(sink.keys("/feed"))
    with capsys.disabled():
        print(
            f"\npoll across 3 replicas: records {RECORDS}, jobs emitted {sum(emitted.values())}, "
            f"delivered {len(keys)} jobs in {sum(keys.values())} requests; holder {dead} "
            f"SIGKILLed, {new} took over after {took_over:.2f}s and polled "
            f"{first_poll[0] - killed_at:.2f}s after the kill (lease {LEASE:g}s); "
            f"polls {len(feed.polls)}"
        )
    assert emitted == Counter(range(1, RECORDS + 1)), "a record was emitted twice or never"
    assert delivered.keys() == set(range(1, RECORDS + 1))
    assert all(count <= 1 for count in Counter(k.rsplit("-", 1)[0] for k in keys).values())
    assert took_over < LEASE + 1.5


async def _new_holder(shared: Shared, dead: str) -> str | None:
    owner = await holder(shared)
    return owner if owner is not None and owner != dead else None


async def _idle(shared: Shared) -> bool:
    count = await shared.value("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
    return count == 0
