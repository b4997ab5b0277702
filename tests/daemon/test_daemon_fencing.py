"""One `runner serve` on SQLite: a job taken away mid-step stops quietly, and a job of a recipe
the daemon no longer loads is failed with a clear error rather than left queued forever."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.engine.records import JobRecord
from runner.store import open_store
from tests.daemon.conftest import DaemonProcess, http, wait_for, write
from tests.daemon.gate import Gate

RECIPE = """\
kind: connection
name: upstream
base_url: "@URL@"
private_network: true
---
kind: recipe
name: two-steps
concurrency: 2  # a job still running in another name leaves room for the next
trigger: {webhook: {path: work}}
steps:
  - id: first
    request: {connection: upstream, method: POST, url: /first, json: {n: "{{ trigger.body.n }}"}}
  - id: second
    request: {connection: upstream, method: POST, url: /second, json: {n: "{{ trigger.body.n }}"}}
"""
Daemons = Callable[..., DaemonProcess]


@pytest.fixture
def gate() -> Iterator[Gate]:
    server = Gate("/first")
    yield server
    server.close()


def post(daemon: DaemonProcess, n: int) -> str:
    status, body = http(
        "POST", f"{daemon.url}/webhooks/work", json.dumps({"n": n}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 202, body
    return str(json.loads(body)["job_id"])


def messages(daemon: DaemonProcess, job_id: str) -> list[str]:
    return [e["message"] for e in daemon.log_entries() if e.get("job") == job_id]


def test_a_job_taken_away_mid_step_stops_without_writing_or_failing(
    tmp_path: Path, gate: Gate, daemons: Daemons
) -> None:
    daemon = daemons([write(tmp_path / "r.yaml", RECIPE, URL=gate.url)]).start()
    job_id = post(daemon, 1)
    assert gate.holding.wait(10), "the first step never reached the upstream"
    # What another replica's takeover leaves in the store: the job running in someone else's name.
    with sqlite3.connect(daemon.workdir / "runner.db", timeout=10) as conn:
        conn.execute("UPDATE jobs SET owner = 'intruder/1' WHERE id = ?", (job_id,))
    gate.open()
    lost = f"lost the lease of job {job_id}; another replica runs it"
    wait_for(lambda: lost in messages(daemon, job_id), 10, "the lost lease to be logged")
    left = daemon.job(job_id)
    assert (left["status"], left["steps"]) == ("running", [])  # nothing written over the heir's
    assert gate.keys("/second") == []  # the job stopped at once
    assert not {"job failed", "job crashed", "job succeeded"} & set(messages(daemon, job_id))

    again = post(daemon, 2)  # the daemon goes on working
    wait_for(lambda: daemon.job(again)["status"] == "succeeded", 10, "the next job")
    assert daemon.stop() == 0


def test_a_queued_job_of_a_recipe_no_longer_loaded_fails_with_a_clear_error(
    tmp_path: Path, gate: Gate, daemons: Daemons
) -> None:
    daemon = daemons([write(tmp_path / "r.yaml", RECIPE, URL=gate.url)])
    orphan = JobRecord(uuid.uuid4().hex, "removed", "queued", {}, datetime.now(UTC).isoformat())

    async def enqueue() -> None:
        async with open_store(daemon.store) as store:
            await store.enqueue(orphan)

    asyncio.run(enqueue())
    daemon.start()
    wait_for(lambda: daemon.job(orphan.id)["status"] == "failed", 10, "the orphan job to fail")
    assert daemon.job(orphan.id)["error"] == "recipe removed is no longer loaded"
    assert daemon.stop() == 0
