"""Handing jobs between replicas: a replica that lost its job stops writing; SIGTERM hands the
unfinished jobs back at once; replicas loading different documents run only their own recipes.

Steps go to a gate that holds the first request to /first, so a step stays in flight exactly as
long as the test needs while it takes the job away or stops the replica.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon.conftest import Sink, until, write
from tests.daemon.gate import Gate
from tests.replicas.conftest import Replica, Shared

CONNECTION = """\
kind: connection
name: upstream
base_url: "@URL@"
private_network: true
"""
TWO_STEPS = """\
kind: recipe
name: two-steps
concurrency: 4
trigger:
  webhook:
    path: work
    respond: @RESPOND@
    timeout: 20s
    response: {status: 200, body: {second: "{{ steps.second.body.path }}"}}
steps:
  - id: first
    request: {connection: upstream, method: POST, url: /first, json: {n: "{{ trigger.body.n }}"}}
  - id: second
    request: {connection: upstream, method: POST, url: /second, json: {n: "{{ trigger.body.n }}"}}
"""
HOOK = """\
kind: recipe
name: @NAME@
trigger: {webhook: {path: @NAME@}}
steps:
  - id: forward
    request: {connection: upstream, method: POST, url: /@NAME@, json: {n: "{{ trigger.body.n }}"}}
"""
Replicas = Callable[..., Replica]


@pytest.fixture
def gate() -> Iterator[Gate]:
    server = Gate("/first")
    yield server
    server.close()


async def post(client: aiohttp.ClientSession, replica: Replica, path: str, n: int) -> Any:
    async with client.post(f"{replica.url}/webhooks/{path}", json={"n": n}) as response:
        return response.status, await response.json()


async def post_held(replica: Replica, gate: Gate) -> str:
    """Posts one `work` webhook to a ready replica and waits until the job's first step is held
    at the gate; the job's id."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        status, body = await post(client, replica, "work", 1)
    assert status == 202
    assert await asyncio.to_thread(gate.holding.wait, 10), "the first step never started"
    return str(body["job_id"])


def messages(replica: Replica, job_id: str) -> list[str]:
    return [e["message"] for e in replica.log_entries() if e.get("job") == job_id]


async def job_row(shared: Shared, job_id: str) -> Any:
    [row] = await shared.rows("SELECT status, owner FROM jobs WHERE id = $1", job_id)
    return row


async def test_a_replica_whose_job_was_taken_over_stops_and_its_sync_answer_is_the_heirs(
    tmp_path: Path, gate: Gate, shared: Shared, replicas: Replicas
) -> None:
    connection = write(tmp_path / "upstream.yaml", CONNECTION, URL=gate.url)
    documents = [connection, write(tmp_path / "work.yaml", TWO_STEPS, RESPOND="sync")]
    # One worker: the held job fills it, so this replica cannot claim the job back itself.
    stalled = replicas(documents, "stalled", 1).start_quietly()
    await asyncio.to_thread(stalled.wait_ready)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        answer = asyncio.create_task(post(client, stalled, "work", 1))
        assert await asyncio.to_thread(gate.holding.wait, 10), "the first step never started"
        job_id = await shared.value("SELECT id FROM jobs")
        # What recover_expired does to a replica that stalled past its lease.
        await shared.rows("UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL")
        heir = replicas(documents, "heir", 2).start_quietly()
        status, body = await asyncio.wait_for(answer, 25)  # answered once the heir finished it
    assert (status, body) == (200, {"second": "/second"})
    assert (await job_row(shared, job_id))["owner"].startswith("heir/")
    gate.open()  # the stalled replica's step returns: its checkpoint is refused
    lost = f"lost the lease of job {job_id}; another replica runs it"
    await until(lambda: lost in messages(stalled, job_id), 10, "the stalled replica to give up")
    row = await job_row(shared, job_id)
    assert row["status"] == "succeeded" and row["owner"].startswith("heir/")
    assert not {"job failed", "job crashed", "job succeeded"} & set(messages(stalled, job_id))
    assert gate.keys("/first") == [f"{job_id}-first"] * 2  # held by one, sent again by the heir
    assert gate.keys("/second") == [f"{job_id}-second"]  # by the heir alone
    assert heir.stop() == 0 and stalled.stop() == 0


async def test_sigterm_hands_an_unfinished_job_to_another_replica_without_waiting_for_its_lease(
    tmp_path: Path,
    gate: Gate,
    shared: Shared,
    replicas: Replicas,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connection = write(tmp_path / "upstream.yaml", CONNECTION, URL=gate.url)
    documents = [connection, write(tmp_path / "work.yaml", TWO_STEPS, RESPOND="accepted")]
    lease = {"RUNNER_LEASE": "30s"}  # far longer than the test: only a handover can be this fast
    leaving = replicas(documents, "leaving", 2, {**lease, "RUNNER_SHUTDOWN_GRACE": "300ms"})
    leaving.start_quietly()
    await asyncio.to_thread(leaving.wait_ready)
    job_id = await post_held(leaving, gate)
    staying = replicas(documents, "staying", 2, lease).start_quietly()
    await asyncio.to_thread(staying.wait_ready)
    assert (await job_row(shared, job_id))["owner"].startswith("leaving/")
    started = time.monotonic()
    leaving.signal(signal.SIGTERM)

    async def taken() -> bool:
        owner = (await job_row(shared, job_id))["owner"]  # None while queued
        return owner is not None and owner.startswith("staying/")

    await until(taken, 10, "the other replica to take the job")
    handover = time.monotonic() - started
    assert await asyncio.to_thread(leaving.wait_exit) == 0
    await until(lambda: _status(shared, job_id, "succeeded"), 10, "the job to end")
    with capsys.disabled():
        print(f"\nSIGTERM handover: the job ran on the other replica {handover:.2f}s after the "
              "signal (grace 0.3s, lease 30s)")
    assert handover < 5.0  # the grace (0.3 s) and one idle look for work (1 s), not 30 s
    assert any(e["message"].startswith("jobs still running at the end of the grace period were "
                                       "handed back") for e in leaving.log_entries())
    assert gate.keys("/first") == [f"{job_id}-first"] * 2  # the one in flight, sent again
    assert gate.keys("/second") == [f"{job_id}-second"]
    assert staying.stop() == 0


async def test_replicas_with_different_documents_run_only_the_recipes_they_load(
    tmp_path: Path, sink: Sink, shared: Shared, replicas: Replicas
) -> None:
    connection = write(tmp_path / "upstream.yaml", CONNECTION, URL=sink.url)
    alpha = [connection, write(tmp_path / "alpha.yaml", HOOK, NAME="alpha")]
    beta = [connection, write(tmp_path / "beta.yaml", HOOK, NAME="beta")]
    old = replicas(alpha, "old", 4).start_quietly()
    front = replicas(beta, "front", 0).start_quietly()  # accepts beta, runs nothing
    for replica in (old, front):
        await asyncio.to_thread(replica.wait_ready)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        betas = [await post(client, front, "beta", n) for n in range(3)]
        alphas = [await post(client, old, "alpha", n) for n in range(3)]
    assert {status for status, _ in betas + alphas} == {202}
    beta_ids = [body["job_id"] for _, body in betas]
    alpha_ids = [body["job_id"] for _, body in alphas]
    for job_id in alpha_ids:
        await until(lambda job_id=job_id: _status(shared, job_id, "succeeded"), 10, "alpha jobs")
    await asyncio.sleep(1.2)  # a look for work by the idle old replica, at least
    assert [(await job_row(shared, j))["status"] for j in beta_ids] == ["queued"] * 3
    new = replicas(beta, "new", 2).start_quietly()  # the rolling update reaches a worker
    for job_id in beta_ids:
        await until(lambda job_id=job_id: _status(shared, job_id, "succeeded"), 20, "beta jobs")
    owners = {row["recipe"]: set() for row in await shared.rows("SELECT recipe FROM jobs")}
    for row in await shared.rows("SELECT recipe, owner FROM jobs"):
        owners[row["recipe"]].add(row["owner"].split("/")[0])
    assert owners == {"alpha": {"old"}, "beta": {"new"}}
    assert await shared.value("SELECT count(*) FROM jobs WHERE status = 'failed'") == 0
    assert new.stop() == 0


async def _status(shared: Shared, job_id: str, status: str) -> bool:
    return bool((await job_row(shared, job_id))["status"] == status)
