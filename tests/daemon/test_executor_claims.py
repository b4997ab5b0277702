"""When the worker pool asks the store for work: on wake-ups, and after a job only while the
store may hold queued jobs. The executor runs in-process on a real SQLite file against a real
local upstream; the pool's idle poll is pushed out to 60 s, so anything that finishes within
the test's bounds was started by a wake-up, not by the poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runner.daemon import executor as executor_module
from runner.daemon.active import Active, load_active
from runner.daemon.executor import Executor
from runner.engine.job import new_job
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.store.sqlite import SQLiteStore
from tests.support.servers import RecordingSink, start_app

RECIPES = """kind: connection
name: sink
base_url: {url}
private_network: true
---
kind: recipe
name: fast
concurrency: 8
trigger: {{webhook: {{path: fast}}}}
steps:
  - id: post
    request: {{connection: sink, method: POST, url: /fast, json: {{n: "{{{{ trigger.body.n }}}}"}}}}
---
kind: recipe
name: ordered
trigger: {{webhook: {{path: ordered}}}}
steps:
  - id: post
    request:
      {{connection: sink, method: POST, url: /ordered, json: {{n: "{{{{ trigger.body.n }}}}"}}}}
"""


class Pool:
    """An executor with its run loop going, and a count of the claims it made."""

    def __init__(self, executor: Executor, store: SQLiteStore, sink: RecordingSink) -> None:
        self.executor = executor
        self.sink = sink
        self.claims = 0
        claim = store.claim

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.claims += 1
            return await claim(*args, **kwargs)

        store.claim = counted  # type: ignore[method-assign]


@pytest.fixture
async def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pool]:
    monkeypatch.setattr(executor_module, "IDLE_POLL", 60.0)
    sink = RecordingSink()
    url, stop_sink = await start_app(sink.make_app())
    (tmp_path / "recipes.yaml").write_text(RECIPES.format(url=url))
    active: Active = load_active([str(tmp_path / "recipes.yaml")], SecretSource({}), Redactor())
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/runner.db")
    await store.open()
    executor = Executor(store, Metrics(), lambda: active, workers=16)
    pool = Pool(executor, store, sink)
    run = asyncio.create_task(executor.run())
    try:
        yield pool
    finally:
        await executor.drain(5)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await store.close()
        await active.runtime.close()
        await stop_sink()


def running_gauge(executor: Executor) -> float | None:
    """`runner_jobs_running` as a scrape of /metrics would read it now."""
    return executor.metrics.registry.get_sample_value("runner_jobs_running")


async def wait_until(condition: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_jobs_started_at_enqueue_cost_no_claim_when_nothing_is_queued(pool: Pool) -> None:
    executor, store = pool.executor, pool.executor.store
    await wait_until(lambda: pool.claims >= 1 and executor._idle.is_set())  # the start-up claim
    before = pool.claims
    for n in range(10):  # as a webhook does it: claimed in the write that stores it
        job = new_job("fast", {"body": {"n": n}})
        waiter = executor.waiter(job.id)
        assert executor.reserve()
        _, created, claimed = await store.enqueue_claimed(job, concurrency=8, owner=executor.owner)
        assert created and claimed
        executor.start_claimed(job)
        assert running_gauge(executor) == 1
        assert (await asyncio.wait_for(waiter, 10)).job.status == "succeeded"
    assert len(pool.sink.requests) == 10
    await wait_until(lambda: not executor.running)
    assert running_gauge(executor) == 0
    assert pool.claims == before  # before this change: one claim per finished job


async def test_a_queue_behind_concurrency_one_drains_without_waiting_for_the_poll(
    pool: Pool,
) -> None:
    executor, store = pool.executor, pool.executor.store
    await wait_until(lambda: pool.claims >= 1 and executor._idle.is_set())
    for n in range(4):  # queued, as a webhook does it with no worker free
        await store.enqueue(new_job("ordered", {"body": {"n": n}}))
        executor.wake()
    # Each job waits for the one before (concurrency 1): only the wake-up of a finishing job
    # starts the next within these 10 s, the idle poll being 60 s away.
    sink = pool.sink
    await wait_until(lambda: len(sink.for_path("/ordered")) == 4)
    assert [r.json()["n"] for r in sink.for_path("/ordered")] == [0, 1, 2, 3]
    await wait_until(lambda: not executor.running)
    # Once a claim has found the queue empty, finishing jobs stop asking.
    claims = pool.claims
    job = new_job("fast", {"body": {"n": 99}})
    waiter = executor.waiter(job.id)
    assert executor.reserve()
    await store.enqueue_claimed(job, concurrency=8, owner=executor.owner)
    executor.start_claimed(job)
    await asyncio.wait_for(waiter, 10)
    assert pool.claims == claims


async def test_a_waiter_nobody_reads_leaves_nothing_behind(pool: Pool) -> None:
    """A sync webhook whose client went away: its job still runs and reports, and the views of
    its steps (kept for the response) go with it, not into a dict that grows."""
    executor, store = pool.executor, pool.executor.store
    await wait_until(lambda: pool.claims >= 1 and executor._idle.is_set())
    waiters = []
    for n in range(5):
        job = new_job("fast", {"body": {"n": n}})
        waiters.append(executor.waiter(job.id))  # registered, never awaited
        assert executor.reserve()
        await store.enqueue_claimed(job, concurrency=8, owner=executor.owner)
        executor.start_claimed(job)
    await wait_until(lambda: all(w.done() for w in waiters))
    await wait_until(lambda: not executor.running)
    assert executor.views == {} and executor.waiters == {}
    finished = waiters[0].result()
    assert finished.job.status == "succeeded" and finished.views is not None
