"""A `respond: sync` webhook accepted by an accept-only replica and run by another one.

The accepting replica (RUNNER_WORKERS=0) runs nothing; it answers when the store shows the job
finished, with the response rendered from the steps the other replica recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.daemon.conftest import Sink, write
from tests.replicas.conftest import Replica, Shared
from tests.support.servers import Reply

RECIPE = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: lookup
concurrency: 10
trigger:
  webhook:
    path: lookup
    respond: sync
    timeout: 10s
    response:
      status: 200
      body: {found: "{{ steps.fetch.body.name }}", n: "{{ trigger.body.n }}"}
steps:
  - id: fetch
    request: {connection: sink, method: POST, url: /lookup, json: {n: "{{ trigger.body.n }}"}}
"""


async def test_sync_webhook_answered_by_the_replica_that_accepted_it_when_another_ran_it(
    tmp_path: Path,
    sink: Sink,
    shared: Shared,
    replicas: Callable[..., Replica],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink.recorder.default = Reply(json={"name": "Ada"}, delay=0.05)
    documents = [write(tmp_path / "lookup.yaml", RECIPE, SINK=sink.url)]
    front = replicas(documents, "front", 0).start_quietly()  # accepts, runs nothing
    back = replicas(documents, "back", 4).start_quietly()
    for replica in (front, back):
        await asyncio.to_thread(replica.wait_ready)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:

        async def ask(n: int) -> tuple[int, object]:
            async with client.post(f"{front.url}/webhooks/lookup", json={"n": n}) as response:
                return response.status, json.loads(await response.text())

        answers = await asyncio.gather(*(ask(n) for n in range(10)))
    owners = {row["owner"].split("/")[0] for row in await shared.rows("SELECT owner FROM jobs")}
    with capsys.disabled():
        print(f"\nsync across replicas: {len(answers)} answered by front, run by {sorted(owners)}")
    assert answers == [(200, {"found": "Ada", "n": n}) for n in range(10)]
    assert owners == {"back"}
