"""Retries, Retry-After, timeouts, refused and reset connections, and the shared rate limit."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from runner.engine.job import new_job, run_job
from runner.http.client import ConnectionClient
from tests.support.documents import api_documents as docs
from tests.support.servers import Reply


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_503_is_retried_with_backoff_until_it_succeeds(sink, make_project, run_recipe):
    sink.recorder.script("/flaky", Reply(503), Reply(502), Reply(json={"ok": 1}))
    project = make_project(docs(sink.url, """
  - id: get
    request: {connection: api, url: /flaky}
""", "retry: {attempts: 3, backoff: 50ms}"))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    attempts = job.steps[0].calls[0].attempts
    assert [a.status for a in attempts] == [503, 502, 200]
    assert attempts[0].waited_ms == 0
    assert 25 <= attempts[1].waited_ms <= 50 and 50 <= attempts[2].waited_ms <= 100


async def test_retries_stop_at_attempts_and_the_error_says_how_many(
    sink, make_project, run_recipe
):
    sink.recorder.default = Reply(503, body="busy")
    project = make_project(docs(sink.url, """
  - id: get
    retry: {attempts: 2, backoff: 10ms}
    request: {connection: api, url: /busy}
""", "retry: {attempts: 5, backoff: 10ms}"))
    job = await run_recipe(project, "r")
    assert len(sink.recorder.requests) == 2  # the step's retry overrides the connection's
    assert "answered 503 Service Unavailable (expected 2xx) (after 2 attempts)" in job.error


async def test_retry_after_in_seconds_is_honoured(sink, make_project, run_recipe):
    sink.recorder.script("/slow", Reply(429, headers={"Retry-After": "1"}), Reply(json={}))
    project = make_project(docs(sink.url, """
  - id: get
    request: {connection: api, url: /slow}
""", "retry: {attempts: 2, backoff: 10ms}"))
    started = time.monotonic()
    job = await run_recipe(project, "r")
    elapsed = time.monotonic() - started
    assert job.status == "succeeded", job.error
    assert 0.95 <= elapsed < 1.8
    assert job.steps[0].calls[0].attempts[1].waited_ms == 1000


async def test_retry_after_as_an_http_date_is_honoured(sink, make_project, run_recipe):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    sink.recorder.script("/slow", Reply(503, headers={"Retry-After": when}), Reply(json={}))
    project = make_project(docs(sink.url, """
  - id: get
    request: {connection: api, url: /slow}
""", "retry: {attempts: 2, backoff: 10ms}"))
    started = time.monotonic()
    job = await run_recipe(project, "r")
    elapsed = time.monotonic() - started
    assert job.status == "succeeded", job.error
    assert 0.9 <= elapsed < 2.6  # HTTP-dates have whole seconds: 1 to 2 s from now


@pytest.mark.parametrize(("on", "sent"), [("[5xx]", 1), ("[503]", 2)])
async def test_post_is_retried_after_a_response_only_when_the_status_is_named(
    on, sent, sink, make_project, run_recipe
):
    sink.recorder.script("/create", Reply(503), Reply(201, json={}))
    project = make_project(docs(sink.url, f"""
  - id: create
    retry: {{attempts: 3, backoff: 10ms, on: {on}}}
    request: {{connection: api, method: POST, url: /create, json: {{}}}}
"""))
    job = await run_recipe(project, "r")
    assert len(sink.recorder.requests) == sent
    assert job.status == ("failed" if sent == 1 else "succeeded")
    keys = {r.headers["Idempotency-Key"] for r in sink.recorder.requests}
    assert keys == {f"{job.id}-create"}  # a retry carries the same key


async def test_an_accepted_status_is_never_retried(sink, make_project, run_recipe):
    sink.recorder.script("/x", Reply(503))
    project = make_project(docs(sink.url, """
  - id: get
    request: {connection: api, url: /x, expect: [503]}
""", "retry: {attempts: 3, backoff: 10ms}"))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert len(sink.recorder.requests) == 1


async def test_a_timeout_fails_the_step_and_is_retried_when_named(
    sink, make_project, run_recipe
):
    sink.recorder.script("/slow", Reply(delay=1.0), Reply(json={"late": False}))
    project = make_project(docs(sink.url, """
  - id: get
    retry: {attempts: 2, backoff: 10ms, on: [timeout]}
    request: {connection: api, url: /slow, timeout: 200ms}
""", "timeout: 30s"))
    started = time.monotonic()
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert time.monotonic() - started < 0.9
    first = job.steps[0].calls[0].attempts[0]
    assert first.error == "timeout: no response within 0.2s"


async def test_the_connection_timeout_applies_when_the_request_has_none(
    sink, make_project, run_recipe
):
    sink.recorder.script("/slow", Reply(delay=1.0))
    project = make_project(docs(sink.url, """
  - id: get
    request: {connection: api, url: /slow}
""", "timeout: 150ms"))
    job = await run_recipe(project, "r")
    assert job.error == f"step get: GET {sink.url}/slow failed: timeout: no response within 0.15s"


async def test_connection_refused_is_reported_and_retried_even_for_post(
    make_project, run_recipe
):
    port = closed_port()
    project = make_project(docs(f"http://127.0.0.1:{port}", """
  - id: create
    request: {connection: api, method: POST, url: /x, json: {}}
""", "retry: {attempts: 3, backoff: 10ms, on: [connection]}"))
    job = await run_recipe(project, "r")
    attempts = job.steps[0].calls[0].attempts
    assert len(attempts) == 3  # nothing reached a server: safe to try again
    assert job.error == (f"step create: POST http://127.0.0.1:{port}/x failed (after 3 attempts): "
                         f"connection failed: Connection refused (127.0.0.1:{port})")


async def test_a_reset_connection_fails_the_step_clearly_and_post_is_not_resent(
    sink, make_project, run_recipe
):
    sink.recorder.default = Reply(reset=True)
    project = make_project(docs(sink.url, """
  - id: create
    request: {connection: api, method: POST, url: /reset, json: {}}
""", "retry: {attempts: 3, backoff: 10ms, on: [503]}"))
    job = await run_recipe(project, "r")
    assert job.status == "failed"
    # Not "connection failed", the wording of the `connection` condition: it may have arrived.
    assert job.error.startswith(f"step create: POST {sink.url}/reset failed: no response: ")
    assert len(sink.recorder.requests) == 1  # it may have arrived: only `on: [timeout]` resends


async def test_a_post_reset_after_sending_is_resent_under_on_timeout(sink, make_project, run_recipe):
    sink.recorder.script("/reset", Reply(reset=True), Reply(json={"id": 1}))
    project = make_project(docs(sink.url, """
  - id: create
    request: {connection: api, method: POST, url: /reset, json: {}}
""", "retry: {attempts: 2, backoff: 10ms, on: [timeout]}"))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert [a.error for a in job.steps[0].calls[0].attempts][0].startswith("no response: ")


async def test_a_host_name_that_does_not_resolve_is_said_so(make_project, make_runtime, run_recipe):
    class NoDNS(AbstractResolver):
        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        async def close(self) -> None:
            pass

    project = make_project(docs("http://no-such-host.test:8080", """
  - id: get
    request: {connection: api, url: /x}
"""))
    runtime = make_runtime(project)
    client = runtime.connections["api"].client
    runtime.connections["api"].client = ConnectionClient(replace(client.settings, resolver=NoDNS()))
    job = await run_recipe(project, "r", runtime=runtime)
    await runtime.connections["api"].client.close()
    assert job.error == ("step get: GET http://no-such-host.test:8080/x failed: connection failed: "
                         "the host name could not be resolved (Name or service not known) "
                         "(no-such-host.test:8080)")


async def test_the_rate_limit_is_shared_by_every_job_of_the_process(
    sink, make_project, make_runtime
):
    project = make_project(docs(sink.url, """
  - id: get
    request: {connection: api, url: /limited}
""", "rate_limit: {requests: 2, per: 300ms}"))
    runtime = make_runtime(project)
    recipe = project.recipes["r"]
    started = time.monotonic()
    jobs = await asyncio.gather(*(run_job(runtime, recipe, new_job("r", {})) for _ in range(5)))
    elapsed = time.monotonic() - started
    assert all(j.status == "succeeded" for j in jobs)
    assert len(sink.recorder.requests) == 5
    assert 0.58 <= elapsed < 1.5  # 2 now, 2 after 300 ms, 1 after 600 ms


class RenewingAuth:
    """A token scheme: `refresh` renews the token, as an OAuth2 strategy would."""

    def __init__(self) -> None:
        self.token = "old"
        self.refreshes = 0

    async def apply(self, headers, params) -> None:  # type: ignore[no-untyped-def]
        headers["Authorization"] = f"Bearer {self.token}"

    async def refresh(self) -> bool:
        self.refreshes += 1
        self.token = "new"
        return True


async def test_a_401_is_answered_by_one_refresh_and_one_more_try(sink):
    from yarl import URL

    from runner.http.client import ClientSettings, ConnectionClient, OutgoingRequest
    from runner.http.egress import EgressPolicy

    sink.recorder.default = Reply(401)
    auth = RenewingAuth()
    client = ConnectionClient(ClientSettings("api", policy=EgressPolicy(private_network=True),
                                             auth=auth))
    try:
        exchange = await client.send(OutgoingRequest("GET", URL(f"{sink.url}/me")))
    finally:
        await client.close()
    assert exchange.status == 401 and auth.refreshes == 1
    assert [r.headers["Authorization"] for r in sink.recorder.requests] == ["Bearer old",
                                                                           "Bearer new"]


async def test_an_answer_that_is_not_http_says_so_and_is_not_a_connection_failure(
    make_project, run_recipe
):
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 2OO NOPE\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        project = make_project(docs(f"http://127.0.0.1:{port}", """
  - id: create
    request: {connection: api, method: POST, url: /x, json: {}}
""", "retry: {attempts: 3, backoff: 10ms, on: [connection]}"))
        job = await run_recipe(project, "r")
    finally:
        server.close()
    assert job.status == "failed"
    assert "failed: no response: the answer is not valid HTTP (" in job.error
    assert len(job.steps[0].calls[0].attempts) == 1  # it reached the server: not `connection`
