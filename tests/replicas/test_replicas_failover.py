"""Three replicas on one PostgreSQL schema, 1,000 signed webhooks, one replica SIGKILLed midway.

Every webhook answered 2xx reaches the sink; no checkpointed step is sent twice (a step in flight
at the kill may be, with the same Idempotency-Key: at most the dead replica's workers); the dead
replica's jobs resume on the others within about a lease; it restarts under the same name.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon.conftest import Sink, until, write
from tests.replicas.conftest import LEASE, Replica, Shared
from tests.support.servers import Reply

WEBHOOKS = 1000
KILL_AT = 400  # acknowledged webhooks before the SIGKILL
WORKERS = 8  # per replica
SENDERS = 24  # webhooks in flight at once
ATTEMPTS = 6  # a sender tries the next replica this many times before giving up on a webhook
SECRET = "github-secret-replicas-0c8e"
RECIPE = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: orders
concurrency: 100
trigger:
  webhook:
    path: orders
    auth: {type: github, secret: "{{ secrets.GITHUB_SECRET }}"}
    dedup: "{{ trigger.headers['X-GitHub-Delivery'] }}"
steps:
  - id: first
    request: {connection: sink, method: POST, url: /first, json: {n: "{{ trigger.body.n }}"}}
  - id: second
    request: {connection: sink, method: POST, url: /second, json: {n: "{{ trigger.body.n }}"}}
"""


class Balancer:
    """The test as a load balancer: round-robin, and on a refusal or 5xx the next replica."""

    def __init__(self, client: aiohttp.ClientSession, replicas: list[Replica]) -> None:
        self.client, self.replicas = client, replicas
        self.accepted: dict[int, str] = {}  # n -> job id, for every 2xx
        self.duplicates = 0  # retries answered "duplicate": stored by a replica that then died
        self.retries = 0
        self.gate = asyncio.Semaphore(SENDERS)

    async def send(self, n: int) -> None:
        body = json.dumps({"n": n}).encode()
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": f"sha256={mac}",
            "X-GitHub-Delivery": str(uuid.uuid4()),
        }
        async with self.gate:
            for attempt in range(ATTEMPTS):
                replica = self.replicas[(n + attempt) % len(self.replicas)]
                answer = await self._post(f"{replica.url}/webhooks/orders", body, headers)
                if answer is not None:
                    self.accepted[n] = answer["job_id"]
                    self.duplicates += answer["status"] == "duplicate"
                    return
                self.retries += 1
                await asyncio.sleep(0.05 * attempt)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Any:
        try:
            async with self.client.post(url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return await response.json()
                assert response.status >= 500, await response.text()  # never refused as bad
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass
        return None


async def recorded_steps(shared: Shared) -> set[str]:
    """`<job>-<step>` of every step the store holds: finished, so never to be sent again."""
    rows = await shared.rows("SELECT job_id, step_id FROM steps")
    return {f"{row['job_id']}-{row['step_id']}" for row in rows}


async def open_jobs(shared: Shared) -> int:
    return int(
        await shared.value("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
    )


async def test_sigkill_of_one_of_three_replicas_loses_no_acknowledged_webhook(
    tmp_path: Path,
    sink: Sink,
    shared: Shared,
    replicas: Callable[..., Replica],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink.recorder.default = Reply(json={"ok": True}, delay=0.05)  # keeps steps in flight
    documents = [write(tmp_path / "orders.yaml", RECIPE, SINK=sink.url)]
    env = {"GITHUB_SECRET": SECRET}
    group = [replicas(documents, f"r{i}", WORKERS, env).start_quietly() for i in range(3)]
    for replica in group:
        await asyncio.to_thread(replica.wait_ready)
    victim = group[1]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        balancer = Balancer(client, group)
        first = [asyncio.create_task(balancer.send(n)) for n in range(WEBHOOKS)]
        await until(lambda: len(balancer.accepted) >= KILL_AT, 60, f"{KILL_AT} acknowledged")
        # Slow answers around the kill: a job seen running must still be running when the
        # SIGKILL lands (with 50 ms answers it could finish between the look and the kill).
        sink.recorder.default = Reply(json={"ok": True}, delay=1.0)
        await asyncio.sleep(0.2)  # requests answered at the old pace are done
        await until(lambda: _busy(shared, "r1"), 10, "the victim running jobs")  # steps in flight
        victim.kill()
        sink.recorder.default = Reply(json={"ok": True}, delay=0.05)
        killed_at = time.monotonic()
        await asyncio.sleep(0.3)  # statements the dead process had sent have landed
        orphans = {
            r["id"]: r["owner"]
            for r in await shared.rows(
                "SELECT id, owner FROM jobs WHERE status = 'running' AND owner LIKE 'r1/%'"
            )
        }
        finished_before_kill = await recorded_steps(shared)
        victim.start_quietly()  # the same RUNNER_REPLICA name, as a restarted container has
        await until(lambda: _requeued(shared, orphans), 4 * LEASE, "the dead replica's jobs")
        failover = time.monotonic() - killed_at
        await asyncio.to_thread(victim.wait_ready)
        await asyncio.wait_for(asyncio.gather(*first), 90)
    expected = {
        f"{job}-{step}" for job in balancer.accepted.values() for step in ("first", "second")
    }
    await until(lambda: expected <= set(sink.keys()), 60, "every acknowledged job's two steps")
    await until(lambda: _drained(shared), 20, "no job queued or running")
    failed = await shared.value("SELECT count(*) FROM jobs WHERE status = 'failed'")
    stored = await shared.value("SELECT count(*) FROM jobs")
    finishers = {
        r["id"]: r["owner"]
        for r in await shared.rows(
            "SELECT id, owner FROM jobs WHERE id = ANY($1::text[])", list(orphans)
        )
    }

    sent = Counter(sink.keys())
    duplicates = {key: count for key, count in sent.items() if count > 1}
    resumers = Counter(
        owner.split("/")[0] for job, owner in finishers.items() if owner != orphans[job]
    )
    with capsys.disabled():
        print(
            f"\n3 replicas, SIGKILL of one: webhooks {WEBHOOKS}, acknowledged "
            f"{len(balancer.accepted)} ({balancer.duplicates} as duplicates of a delivery the "
            f"dead replica stored), retried sends {balancer.retries}, jobs stored {stored}; "
            f"delivered {len(sent)} distinct steps, {sum(sent.values())} requests; "
            f"duplicates {len(duplicates)} (bound {WORKERS}); jobs running at the kill "
            f"{len(orphans)}, resumed by {dict(sorted(resumers.items()))}, requeued {failover:.2f}s after "
            f"the kill (lease {LEASE:g}s)"
        )
    assert len(balancer.accepted) == WEBHOOKS
    assert stored == WEBHOOKS  # a retried delivery never made a second job
    assert failed == 0
    assert expected <= sent.keys()
    assert not duplicates.keys() & finished_before_kill, "a checkpointed step was sent again"
    assert {key.rsplit("-", 1)[0] for key in duplicates} <= orphans.keys()
    assert all(count == 2 for count in duplicates.values())
    assert len(duplicates) <= WORKERS
    assert orphans, "no job was running on the replica at the kill: nothing to resume"
    assert resumers.total() == len(orphans)
    assert failover < LEASE + LEASE / 3 + 2.0


async def _requeued(shared: Shared, orphans: dict[str, str]) -> bool:
    """True once none of the jobs the dead replica ran is still running in its name."""
    left = await shared.value(
        "SELECT count(*) FROM jobs WHERE id = ANY($1::text[]) AND status = 'running' "
        "AND owner = ANY($2::text[])",
        list(orphans),
        list(set(orphans.values())),
    )
    return left == 0


async def _busy(shared: Shared, name: str) -> bool:
    """True while the replica runs at least half its workers' worth of jobs."""
    running = await shared.value(
        "SELECT count(*) FROM jobs WHERE status = 'running' AND owner LIKE $1", f"{name}/%"
    )
    return bool(running >= WORKERS // 2)


async def _drained(shared: Shared) -> bool:
    return await open_jobs(shared) == 0
