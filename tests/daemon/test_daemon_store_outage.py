"""One `runner serve` on SQLite whose store is locked by another process while a job runs: the
job goes on, its end is stored once the lock is gone, and nothing is sent twice or lost."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import DaemonProcess, http, wait_for, write
from tests.daemon.gate import Gate
from tests.daemon.test_daemon_fencing import RECIPE, Daemons, messages, post

PENDING = "could not store the job's outcome; it is written as soon as the store answers"
CHECKPOINT = "could not checkpoint the step; the job goes on and stores it at its end"


@pytest.fixture
def gate() -> Iterator[Gate]:
    server = Gate("/first")
    yield server
    server.close()


def locked_daemon(tmp_path: Path, gate: Gate, daemons: Daemons) -> DaemonProcess:
    # A short lease renews (and retries) every 0.5 s; a short busy timeout fails writes fast.
    daemon = daemons([write(tmp_path / "r.yaml", RECIPE, URL=gate.url)],
                     env={"RUNNER_LEASE": "1.5s"})
    daemon.store += "?busy_timeout=100"
    return daemon.start()


def test_a_job_outlives_a_locked_store_and_is_recorded_once_it_is_free(
    tmp_path: Path, gate: Gate, daemons: Daemons
) -> None:
    daemon = locked_daemon(tmp_path, gate, daemons)
    job_id = post(daemon, 1)
    assert gate.holding.wait(10), "the first step never reached the upstream"
    # Another process takes the database's write lock: every write of the runner now fails.
    lock = sqlite3.connect(daemon.workdir / "runner.db", timeout=10, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        gate.open()
        wait_for(lambda: PENDING in messages(daemon, job_id), 15, "the outcome to wait")
        assert CHECKPOINT in messages(daemon, job_id)
        assert len(gate.keys("/second")) == 1  # the job went on past the failed checkpoint
        status = lock.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        assert status == ("running",)  # nothing stored yet
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_for(lambda: daemon.job(job_id)["status"] == "succeeded", 15, "the outcome to be stored")
    stored = daemon.job(job_id)
    assert [step["id"] for step in stored["steps"]] == ["first", "second"]
    assert (len(gate.keys("/first")), len(gate.keys("/second"))) == (1, 1)
    seen = messages(daemon, job_id)
    assert "job succeeded" in seen and "job outcome stored" in seen
    assert "job crashed" not in seen and "job failed" not in seen

    again = post(daemon, 2)  # the daemon goes on working
    wait_for(lambda: daemon.job(again)["status"] == "succeeded", 10, "the next job")
    assert daemon.stop() == 0


def test_readyz_says_not_ready_while_the_store_cannot_be_written(
    tmp_path: Path, gate: Gate, daemons: Daemons
) -> None:
    """Reads still work in WAL mode while another process holds the write lock, but webhooks
    cannot be stored: a load balancer must stop sending them here."""
    daemon = locked_daemon(tmp_path, gate, daemons)
    assert http("GET", f"{daemon.url}/readyz")[0] == 200
    lock = sqlite3.connect(daemon.workdir / "runner.db", timeout=10, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        status, body = http("GET", f"{daemon.url}/readyz", timeout=10)
        assert status == 503 and json.loads(body)["store"] is False
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_for(lambda: http("GET", f"{daemon.url}/readyz")[0] == 200, 10, "ready again")
    assert daemon.stop() == 0
