"""A replica SIGKILLed and restarted under the same RUNNER_REPLICA name while it stays busy.

Leases belong to the process, not the name: the restarted replica's heartbeats must not renew
the leases of the jobs its dead predecessor was running, or they would stay stranded for as long
as it keeps busy. They expire and resume within about a lease, as after any other death.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.daemon.conftest import Sink, until, write
from tests.replicas.conftest import Replica, Shared
from tests.support.servers import Reply

LEASE = 4.0  # long enough that the restarted process heartbeats before the old leases expire
STEP = 1.0  # seconds the sink takes per request: jobs stay running
RECIPE = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: slow
concurrency: 20
trigger: {webhook: {path: slow}}
steps:
  - id: call
    request: {connection: sink, method: POST, url: /slow, json: {n: "{{ trigger.body.n }}"}}
"""


async def post(client: aiohttp.ClientSession, replica: Replica, n: int) -> str:
    async with client.post(f"{replica.url}/webhooks/slow", json={"n": n}) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["job_id"])


async def test_restart_under_the_same_name_does_not_strand_the_dead_processes_jobs(
    tmp_path: Path,
    sink: Sink,
    shared: Shared,
    replicas: Callable[..., Replica],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink.recorder.default = Reply(json={"ok": True}, delay=STEP)
    documents = [write(tmp_path / "slow.yaml", RECIPE, SINK=sink.url)]
    replica = replicas(documents, "solo", 8, {"RUNNER_LEASE": f"{LEASE:g}s"})
    replica.start()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        stranded = {await post(client, replica, n) for n in range(2)}
        await until(lambda: _running(shared, stranded), 10, "both jobs running")
        replica.kill()
        killed_at = time.monotonic()
        dead = {
            r["owner"]
            for r in await shared.rows(
                "SELECT owner FROM jobs WHERE id = ANY($1::text[])", list(stranded)
            )
        }
        await asyncio.to_thread(replica.start)  # same name, as a restarted container has
        n = 2
        while not await _requeued(shared, stranded, dead):  # keeps the new process busy meanwhile
            assert time.monotonic() - killed_at < LEASE + LEASE / 3 + 3.0, "jobs stranded"
            await post(client, replica, n)
            n += 1
            await asyncio.sleep(0.3)
        requeued = time.monotonic() - killed_at
        await until(lambda: _finished(shared, stranded), 10, "the stranded jobs to finish")
    with capsys.disabled():
        print(
            f"\nrestart under the same name: requeued {requeued:.2f}s after the kill "
            f"(lease {LEASE:g}s), {n - 2} jobs run by the new process meanwhile"
        )


async def _running(shared: Shared, jobs: set[str]) -> bool:
    count = await shared.value(
        "SELECT count(*) FROM jobs WHERE id = ANY($1::text[]) AND status = 'running'", list(jobs)
    )
    return bool(count == len(jobs))


async def _requeued(shared: Shared, jobs: set[str], dead: set[str]) -> bool:
    """True once no job of `jobs` is running in the name of a dead owner."""
    count = await shared.value(
        "SELECT count(*) FROM jobs WHERE id = ANY($1::text[]) AND status = 'running' "
        "AND owner = ANY($2::text[])",
        list(jobs),
        list(dead),
    )
    return count == 0


async def _finished(shared: Shared, jobs: set[str]) -> bool:
    count = await shared.value(
        "SELECT count(*) FROM jobs WHERE id = ANY($1::text[]) AND status = 'succeeded'", list(jobs)
    )
    return bool(count == len(jobs))
