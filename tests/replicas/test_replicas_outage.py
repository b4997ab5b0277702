"""A replica cut off from PostgreSQL while a job runs: the job stops at the checkpoint that
failed, is requeued in its place as soon as the database is back (without waiting for its lease
to run out), and then finishes once with every step recorded; nothing is reported failed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import until, write
from tests.daemon.gate import Gate
from tests.replicas.conftest import Replica, Shared
from tests.replicas.outage import Partition, through
from tests.replicas.test_replicas_handover import CONNECTION, TWO_STEPS, messages, post_held

Replicas = Callable[..., Replica]
STOPPED = ("the store was unavailable mid-job; the job stops here and resumes at its first "
           "unrecorded step once the store answers")


@pytest.fixture
def gate() -> Iterator[Gate]:
    server = Gate("/first")
    yield server
    server.close()


async def test_a_job_of_a_replica_cut_off_mid_step_is_requeued_and_finished_once(
    tmp_path: Path, gate: Gate, shared: Shared, partition: Partition, replicas: Replicas
) -> None:
    connection = write(tmp_path / "upstream.yaml", CONNECTION, URL=gate.url)
    documents = [connection, write(tmp_path / "work.yaml", TWO_STEPS, RESPOND="accepted")]
    # A lease longer than the outage: only the release can requeue the job this soon.
    replica = replicas(documents, "cut", 2, {"RUNNER_LEASE": "6s"})
    replica.store = through(shared.url, partition.port)
    replica.start_quietly()
    await asyncio.to_thread(replica.wait_ready)
    job_id = await post_held(replica, gate)
    partition.cut()
    gate.open()  # the step returns while the database is out of reach: its checkpoint fails
    await until(lambda: STOPPED in messages(replica, job_id), 15, "the job to stop")
    assert gate.keys("/second") == []  # stopped at the failed write
    partition.reopen()

    async def finished() -> bool:
        return await shared.value("SELECT status FROM jobs WHERE id = $1", job_id) == "succeeded"

    await until(finished, 20, "the requeued job to finish")
    steps = await shared.rows("SELECT step_id FROM steps WHERE job_id = $1 ORDER BY seq", job_id)
    assert [r["step_id"] for r in steps] == ["first", "second"]
    # The first step's checkpoint failed: it is sent again on resume, with the same key.
    assert gate.keys("/first") == [f"{job_id}-first"] * 2
    assert gate.keys("/second") == [f"{job_id}-second"]
    seen = messages(replica, job_id)
    assert "job requeued" in seen and "job succeeded" in seen
    assert "job crashed" not in seen and "job failed" not in seen
    assert replica.stop() == 0
