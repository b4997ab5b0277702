"""The retry rules as recipes write them: `retry:` at connection and step level."""

from __future__ import annotations

import time

import pytest

from tests.support.documents import api_documents as docs
from tests.support.servers import Reply


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_step_retry_without_on_does_not_resend_post_answered_503(
    method, sink, make_project, run_recipe
):
    sink.recorder.script("/make", Reply(503), Reply(201, json={}))
    project = make_project(docs(sink.url, f"""
  - id: make
    retry: {{attempts: 3, backoff: 10ms}}
    request: {{connection: api, method: {method}, url: /make, json: {{}}}}
"""))
    job = await run_recipe(project, "r")
    assert len(sink.recorder.requests) == 1
    assert job.status == "failed"
    assert "answered 503 Service Unavailable (expected 2xx); body" in job.error


async def test_a_connection_retry_without_on_does_not_resend_post_answered_503(
    sink, make_project, run_recipe
):
    sink.recorder.script("/make", Reply(503), Reply(201, json={}))
    project = make_project(docs(sink.url, """
  - id: make
    request: {connection: api, method: POST, url: /make, json: {}}
""", "retry: {attempts: 3, backoff: 10ms}"))
    job = await run_recipe(project, "r")
    assert len(sink.recorder.requests) == 1
    assert job.status == "failed"


async def test_a_written_on_with_the_status_still_resends_post(sink, make_project, run_recipe):
    sink.recorder.script("/make", Reply(503), Reply(201, json={}))
    project = make_project(docs(sink.url, """
  - id: make
    request: {connection: api, method: POST, url: /make, json: {}}
""", "retry: {attempts: 3, backoff: 10ms, on: [429, 502, 503, 504, timeout, connection]}"))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert len(sink.recorder.requests) == 2


async def test_a_retry_without_on_still_resends_get_answered_503(sink, make_project, run_recipe):
    sink.recorder.script("/get", Reply(503), Reply(json={}))
    project = make_project(docs(sink.url, """
  - id: get
    retry: {attempts: 3, backoff: 10ms}
    request: {connection: api, url: /get}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert len(sink.recorder.requests) == 2


async def test_a_step_waits_the_whole_retry_after_not_max_backoff(sink, make_project, run_recipe):
    sink.recorder.script("/slow", Reply(429, headers={"Retry-After": "2"}), Reply(json={}))
    project = make_project(docs(sink.url, """
  - id: get
    retry: {attempts: 2, backoff: 10ms, max_backoff: 500ms}
    request: {connection: api, url: /slow}
"""))
    started = time.monotonic()
    job = await run_recipe(project, "r")
    elapsed = time.monotonic() - started
    assert job.status == "succeeded", job.error
    assert 2.0 <= elapsed < 3.5
    assert job.steps[0].calls[0].attempts[1].waited_ms == 2000
