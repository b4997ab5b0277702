"""The daemon's other routes: health, readiness, metrics, the jobs API, and `runner jobs`."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.conftest import API_TOKEN, DaemonProcess, Hub, http, until, write

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def metrics(
    client: aiohttp.ClientSession, hub: Hub
) -> dict[tuple[str, frozenset[Any]], float]:
    async with client.get(f"{hub.url}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(values: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return values.get((name, frozenset(labels.items())), 0.0)


async def run_job(client: aiohttp.ClientSession, hub: Hub, sink_path: str = "/api-hook") -> str:
    """Posts to `api-hook` and waits until the sink got the job's request; returns the job id."""
    marker = uuid.uuid4().int % 10**12
    async with client.post(hub.hook("api-hook"), json={"n": marker}) as response:
        assert response.status == 202
        job_id: str = (await response.json())["job_id"]
    await until(lambda: f"{job_id}-first" in hub.sink.keys(sink_path), 10, "the job's request")
    await until(lambda: _status(client, hub, job_id, "succeeded"), 10, "the job to succeed")
    return job_id


async def _status(client: aiohttp.ClientSession, hub: Hub, job_id: str, wanted: str) -> bool:
    async with client.get(f"{hub.url}/api/jobs/{job_id}", headers=AUTH) as response:
        return response.status == 200 and (await response.json())["status"] == wanted


async def test_healthz_and_readyz(hub: Hub, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{hub.url}/healthz") as response:
        assert (response.status, await response.json()) == (200, {"status": "ok"})
    async with client.get(f"{hub.url}/readyz") as response:
        assert response.status == 200
        assert await response.json() == {
            "status": "ready",
            "store": True,
            "documents_loaded": True,
            "accepting": True,
        }


async def test_metrics_count_webhooks_jobs_and_steps(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    before = await metrics(client, hub)
    await run_job(client, hub)
    async with client.post(hub.hook("basic-hook"), json={}) as response:
        assert response.status == 401
    after = await metrics(client, hub)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("runner_webhooks_total", recipe="api-hook", status="202") == 1
    assert moved("runner_webhooks_total", recipe="basic-hook", status="401") == 1
    assert moved("runner_jobs_total", recipe="api-hook", outcome="succeeded") == 1
    assert moved("runner_step_duration_seconds_count", recipe="api-hook") == 1
    assert ("runner_queue_depth", frozenset()) in after
    assert ("runner_jobs_running", frozenset()) in after
    async with client.get(f"{hub.url}/metrics") as response:
        text = await response.text()
    for family in ("runner_polls_total", "runner_poll_records_total", "runner_poll_lag_seconds"):
        assert f"# TYPE {family.removesuffix('_total')}" in text


async def test_jobs_api_refuses_a_missing_or_wrong_token(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_TOKEN}):
        for method, path in (
            ("GET", "/api/jobs"),
            ("GET", "/api/jobs/x"),
            ("POST", "/api/jobs/x/replay"),
        ):
            async with client.request(method, hub.url + path, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "unauthorized"


async def test_jobs_api_lists_shows_and_replays(hub: Hub, client: aiohttp.ClientSession) -> None:
    job_id = await run_job(client, hub)
    async with client.get(
        f"{hub.url}/api/jobs", params={"recipe": "api-hook"}, headers=AUTH
    ) as response:
        listed = (await response.json())["jobs"]
    assert listed[0]["id"] == job_id and listed[0]["status"] == "succeeded"
    async with client.get(f"{hub.url}/api/jobs/{job_id}", headers=AUTH) as response:
        shown = await response.json()
    [step] = shown["steps"]
    assert step["id"] == "first" and step["status"] == "succeeded"
    assert step["calls"][0]["request"]["method"] == "POST"
    assert step["calls"][0]["response"]["status"] == 200

    async with client.post(f"{hub.url}/api/jobs/{job_id}/replay", headers=AUTH) as response:
        assert response.status == 202
        replay = await response.json()
    assert replay["replay_of"] == job_id and replay["job_id"] != job_id
    await until(lambda: f"{replay['job_id']}-first" in hub.sink.keys("/api-hook"), 10, "the replay")
    await until(
        lambda: _status(client, hub, replay["job_id"], "succeeded"), 10, "the replay to end"
    )
    async with client.get(f"{hub.url}/api/jobs/{replay['job_id']}", headers=AUTH) as response:
        assert (await response.json())["event"] == shown["event"]
    async with client.get(f"{hub.url}/api/jobs/nope", headers=AUTH) as response:
        assert response.status == 404
    async with client.get(f"{hub.url}/api/jobs", params={"limit": "0"}, headers=AUTH) as response:
        assert response.status == 400
    async with client.get(f"{hub.url}/api/jobs", params={"status": "done"}, headers=AUTH) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad-status"
    # The scheme's case does not matter (RFC 9110): `bearer` is Bearer.
    lower = {"Authorization": "bearer " + AUTH["Authorization"].split(" ", 1)[1]}
    async with client.get(f"{hub.url}/api/jobs/{job_id}", headers=lower) as response:
        assert response.status == 200


async def test_jobs_command_lists_shows_and_replays_from_the_same_store(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    job_id = await run_job(client, hub)
    daemon = hub.daemon
    listed = daemon.cli("jobs", "list", "--recipe", "api-hook")
    assert listed.returncode == 0 and job_id in listed.stdout
    assert job_id in [j["id"] for j in daemon.jobs("--recipe", "api-hook")]
    shown = daemon.cli("jobs", "show", job_id)
    assert shown.returncode == 0, shown.stderr
    assert f"job {job_id}" in shown.stdout and "api-hook" in shown.stdout
    assert daemon.job(job_id)["steps"][0]["id"] == "first"

    replayed = daemon.cli("jobs", "replay", job_id, "--format", "json")
    assert replayed.returncode == 0, replayed.stderr
    new_id = json.loads(replayed.stdout)["job_id"]
    # The running daemon finds the job the command queued in its store.
    await until(lambda: f"{new_id}-first" in hub.sink.keys("/api-hook"), 10, "the replayed job")
    assert daemon.cli("jobs", "show", "no-such-job").returncode == 1


def test_jobs_api_is_off_without_a_token_beyond_loopback(
    tmp_path: Path, daemons: Callable[..., DaemonProcess]
) -> None:
    recipe = write(
        tmp_path / "r.yaml",
        """\
kind: recipe
name: quiet
trigger: {webhook: {}}
steps:
  - id: one
    request: {method: POST, url: "http://127.0.0.1:9/never"}
""",
    )
    daemon = daemons([recipe], args=["--host", "0.0.0.0"]).start()
    status, body = http("GET", f"{daemon.url}/api/jobs", headers={"Authorization": "Bearer x"})
    assert status == 404
    assert json.loads(body)["error"]["code"] == "api-disabled"
    assert daemon.stop() == 0
