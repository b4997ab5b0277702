"""The daemon's logs are JSON lines with job fields, and no secret value escapes anywhere."""

from __future__ import annotations

import json
import uuid

import aiohttp

from tests.daemon.conftest import API_TOKEN, HUB_SECRETS, Hub, until
from tests.support.servers import Reply

KEY = HUB_SECRETS["SINK_KEY"]


async def leaky_job(hub: Hub) -> str:
    """A job that sends the secret, gets it echoed back, then fails with it in the error body."""
    hub.sink.script("/secret-hook", Reply(json={"echo": KEY, "note": f"key={KEY}"}))
    hub.sink.script("/secret-fail", Reply(500, body=f"upstream broke; key={KEY}"))
    async with aiohttp.ClientSession() as client:
        async with client.post(hub.hook("secret-hook"), json={"n": uuid.uuid4().hex}) as response:
            assert response.status == 202
            job_id: str = (await response.json())["job_id"]
        await until(lambda: f"{job_id}-fail" in hub.sink.keys("/secret-fail"), 10, "both steps")

        async def failed() -> bool:
            async with client.get(
                f"{hub.url}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {API_TOKEN}"}
            ) as response:
                return (await response.json())["status"] == "failed"

        await until(failed, 10, "the job to fail")
    return job_id


async def test_a_secret_in_headers_and_bodies_never_shows_in_output_or_history(hub: Hub) -> None:
    job_id = await leaky_job(hub)
    [sent] = [
        r
        for r in hub.sink.for_path("/secret-hook")
        if r.headers["Idempotency-Key"] == f"{job_id}-leak"
    ]
    assert sent.headers["X-Api-Key"] == KEY and sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json()["key"] == KEY  # the upstream got the real value; nothing else may

    text = hub.daemon.cli("jobs", "show", job_id)
    as_json = hub.daemon.cli("jobs", "show", job_id, "--format", "json")
    assert text.returncode == 0 and as_json.returncode == 0
    stored = json.loads(as_json.stdout)
    assert stored["status"] == "failed" and "upstream broke; key=***" in stored["error"]
    assert stored["steps"][0]["output"]["body"]["echo"] == "***"
    assert "***" in text.stdout and f"Bearer {KEY}" not in text.stdout
    for output in (
        text.stdout,
        as_json.stdout,
        text.stderr,
        hub.daemon.stdout(),
        hub.daemon.stderr(),
    ):
        for name, secret in HUB_SECRETS.items():
            assert secret not in output, f"{name} leaked"
    assert API_TOKEN not in hub.daemon.stdout()


async def test_every_log_line_is_json_with_job_and_recipe_fields(hub: Hub) -> None:
    job_id = await leaky_job(hub)
    entries = hub.daemon.log_entries()  # fails on a line that is not JSON
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    mine = [e for e in entries if e.get("job") == job_id]
    # A step that succeeded is logged at debug level only; a failed one at warning level.
    assert {e["message"] for e in mine} == {"step finished", "job failed"}
    assert all(e["recipe"] == "secret-hook" for e in mine)
    steps = [e for e in mine if e["message"] == "step finished"]
    assert [(e["step"], e["status"], e["level"]) for e in steps] == [("fail", "failed", "warning")]
    assert all(isinstance(e["duration_ms"], int | float) for e in steps)
    [end] = [e for e in mine if e["message"] == "job failed"]
    assert end["level"] == "warning" and "answered 500" in end["error"] and end["steps"] == 2
