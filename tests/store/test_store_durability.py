"""Durability on every store: a job `enqueue` returned for is there after the process is killed."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

from runner.store import open_store
from tests.store import test_store_contract as contract

store_url = contract.store_url  # the contract's fixture: every implementation, a fresh store
REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from runner.engine.records import JobRecord
    from runner.store import open_store

    async def main() -> None:
        store = open_store(sys.argv[1])
        await store.open()
        job = JobRecord(uuid.uuid4().hex, "hook", "queued", {"body": {"n": 1}}, "2024-01-01")
        job_id, _ = await store.enqueue(job)
        print(job_id, flush=True)  # the moment a webhook would be answered 202
        await asyncio.sleep(30)

    asyncio.run(main())
    """
)


async def test_an_enqueued_job_survives_sigkill_right_after_enqueue_returns(store_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, store_url, stdout=asyncio.subprocess.PIPE, env=env, cwd=REPO
    )
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), timeout=15)
    finally:
        child.kill()  # SIGKILL: no close, no flush, no atexit
        await asyncio.wait_for(child.wait(), timeout=5)
    job_id = line.decode().strip()
    assert job_id, "the child printed no job id"
    async with open_store(store_url) as store:
        job = await store.get_job(job_id)
        assert job is not None and job.event == {"body": {"n": 1}} and job.status == "queued"
