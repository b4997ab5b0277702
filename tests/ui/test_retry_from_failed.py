"""Retry from the failed step through the jobs API and `runner jobs replay --from-failed`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import DaemonProcess, http
from tests.ui.support import TOKEN, Billing, post_event, start_daemon, wait_finished

AUTH = {"Authorization": f"Bearer {TOKEN}"}
Failed = tuple[DaemonProcess, Billing, str]


@pytest.fixture
def failed(daemons: Callable[..., DaemonProcess], tmp_path: Path) -> Iterator[Failed]:
    """A daemon whose billing job failed at its second step, `notify`."""
    billing = Billing()
    try:
        daemon = start_daemon(daemons, tmp_path, billing)
        job_id = post_event(daemon)
        assert wait_finished(daemon, job_id)["status"] == "failed"
        yield daemon, billing, job_id
    finally:
        billing.close()


def test_the_api_retries_a_failed_job_from_its_failed_step(failed: Failed) -> None:
    daemon, billing, job_id = failed
    url = f"{daemon.url}/api/jobs/{job_id}/replay"
    status, body = http("POST", f"{url}?from=middle", headers=AUTH)
    assert status == 400 and json.loads(body)["error"]["code"] == "bad-from"

    billing.fixed = True
    status, body = http("POST", f"{url}?from=failed", headers=AUTH)
    assert status == 202, body
    answer = json.loads(body)
    assert answer["replay_of"] == job_id and answer["reused_steps"] == ["create_invoice"]
    retried = wait_finished(daemon, answer["job_id"])
    assert retried["status"] == "succeeded" and retried["replay_of"] == job_id
    steps = {s["id"]: s for s in retried["steps"]}
    assert steps["create_invoice"]["reused_from"] == job_id
    assert steps["create_invoice"]["output"]["body"]["id"] == "inv_42"
    assert steps["notify"]["reused_from"] is None
    assert billing.counts == {"/invoices": 1, "/notify": 2}

    # A job that succeeded has no failed step: 409, and a plain replay still runs it all.
    status, body = http("POST", f"{daemon.url}/api/jobs/{answer['job_id']}/replay?from=failed",
                        headers=AUTH)
    assert status == 409 and json.loads(body)["error"]["code"] == "not-failed"
    status, body = http("POST", url, headers=AUTH)
    assert status == 202 and json.loads(body)["reused_steps"] == []
    assert wait_finished(daemon, json.loads(body)["job_id"])["status"] == "succeeded"
    assert billing.counts == {"/invoices": 2, "/notify": 3}


def test_the_command_retries_from_the_failed_step_into_the_daemons_store(failed: Failed) -> None:
    daemon, billing, job_id = failed
    billing.fixed = True
    done = daemon.cli("jobs", "replay", job_id, "--from-failed", "--format", "json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["reused_steps"] == ["create_invoice"]
    assert wait_finished(daemon, answer["job_id"])["status"] == "succeeded"
    assert billing.counts == {"/invoices": 1, "/notify": 2}
    text = daemon.cli("jobs", "replay", answer["job_id"], "--from-failed")
    assert text.returncode == 1 and "not failed" in text.stderr
    again = daemon.cli("jobs", "replay", job_id, "--from-failed")
    assert again.returncode == 0 and "reusing steps create_invoice" in again.stdout


def test_the_api_lists_jobs_by_creation_time(failed: Failed) -> None:
    daemon, _, job_id = failed
    created = wait_finished(daemon, job_id)["created_at"]
    base = f"{daemon.url}/api/jobs"
    status, body = http("GET", f"{base}?since={created[:19]}", headers=AUTH)
    assert status == 200 and [j["id"] for j in json.loads(body)["jobs"]] == [job_id]
    status, body = http("GET", f"{base}?until={created[:19]}", headers=AUTH)
    assert status == 200 and json.loads(body)["jobs"] == []
    status, body = http("GET", f"{base}?since=yesterday", headers=AUTH)
    assert status == 400 and json.loads(body)["error"]["code"] == "bad-since"
