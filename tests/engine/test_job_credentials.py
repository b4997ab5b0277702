"""Credentials in a job's records: credential headers by name in step outputs, the values the job
sent by value in echoed bodies, and optional secrets that are not provided."""

from __future__ import annotations

import json

from runner.engine.job import new_job, run_job
from runner.engine.records import JobRecord
from tests.support.documents import api_documents as docs
from tests.support.servers import Reply

SESSION = "sess-3f9a0c7e21"


def stored(job: JobRecord) -> str:
    """Everything the store keeps of a job, and `runner run --format json` prints."""
    return json.dumps(JobRecord.from_json(json.loads(json.dumps(job.to_json()))).to_json())


async def test_set_cookie_is_stored_as_stars_but_later_steps_get_the_real_value(
    sink, make_project, run_recipe
):
    sink.recorder.script("/login", Reply(json={"ok": True}, headers={
        "Set-Cookie": f"session={SESSION}; HttpOnly", "X-Request-Id": "req-1"}))
    project = make_project(docs(sink.url, """
  - id: login
    request: {connection: api, method: POST, url: /login, json: {}}
  - id: use
    request:
      connection: api
      url: /me
      headers: {Cookie: "{{ steps.login.headers['set-cookie'] | replace('; HttpOnly', '') }}"}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert sink.recorder.for_path("/me")[0].headers["Cookie"] == f"session={SESSION}"
    headers = job.steps[0].output["headers"]
    assert headers["Set-Cookie"] == "***" and headers["X-Request-ID"] == "req-1"
    assert ("Set-Cookie", "***") in job.steps[0].calls[0].response.headers
    assert SESSION not in stored(job)


async def test_a_cookie_a_response_set_is_hidden_where_a_later_step_copies_it(
    sink, make_project, run_recipe
):
    sink.recorder.script("/login", Reply(json={}, headers={"Set-Cookie": f"session={SESSION}; Path=/"}))
    project = make_project(docs(sink.url, """
  - id: login
    request: {connection: api, url: /login}
  - id: copy
    request: {connection: api, method: POST, url: /copy, json: {sc: "{{ steps.login.headers['set-cookie'] }}"}}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert sink.recorder.for_path("/copy")[0].json() == {"sc": f"session={SESSION}; Path=/"}
    assert json.loads(job.steps[1].calls[0].request.body) == {"sc": "session=***; Path=/"}
    assert SESSION not in stored(job)


async def test_credential_headers_of_a_failed_step_output_are_stars(
    sink, make_project, run_recipe
):
    sink.recorder.script("/login", Reply(401, json={}, headers={"Set-Cookie": f"s={SESSION}"}))
    project = make_project(docs(sink.url, """
  - id: login
    on_error: continue
    for_each: "{{ [1] }}"
    request: {connection: api, url: /login}
"""))
    job = await run_recipe(project, "r")
    assert job.steps[0].output[0]["ok"] is False
    assert job.steps[0].output[0]["headers"]["Set-Cookie"] == "***"
    assert SESSION not in stored(job)


async def test_resumed_job_sees_the_stored_stars(sink, make_project, make_runtime):
    sink.recorder.script("/login", Reply(json={}, headers={"Set-Cookie": f"s={SESSION}"}))
    project = make_project(docs(sink.url, """
  - id: login
    request: {connection: api, url: /login}
  - id: use
    request: {connection: api, url: /me, headers: {X-Seen: "{{ steps.login.headers['Set-Cookie'] }}"}}
"""))
    runtime = make_runtime(project)
    first = await run_job(runtime, project.recipes["r"], new_job("r", {"body": {}, "headers": {}}))
    interrupted = JobRecord.from_json(json.loads(stored(first)))
    interrupted.steps = interrupted.steps[:1]
    await run_job(runtime, project.recipes["r"], interrupted)
    seen = [r.headers["X-Seen"] for r in sink.recorder.for_path("/me")]
    assert seen == [f"s={SESSION}", "***"]


ECHO_TOKEN = "literal-token-5d2b8e"
ECHO_COOKIE = "jar=cookie-value-71c4"
ECHO_PROXY = "Basic cHJveHk6cGFzcy05OQ=="
ECHO_RENDERED = "rendered-token-a9e0f3"


async def test_credential_headers_the_job_sends_are_hidden_in_echoed_bodies(
    httpbin_url, make_project, make_runtime
):
    project = make_project(docs(httpbin_url, f"""
  - id: echo
    request:
      connection: api
      method: POST
      url: /anything
      headers:
        Authorization: "Bearer {ECHO_TOKEN}"
        Cookie: "{{{{ trigger.body.cookie }}}}"
      json: {{note: plain}}
  - id: again
    request:
      connection: api
      url: /anything
      headers: {{Authorization: "Token {{{{ trigger.body.token }}}}"}}
""", connection=f'headers: {{Proxy-Authorization: "{ECHO_PROXY}"}}'))
    runtime = make_runtime(project)
    event = {"body": {"cookie": ECHO_COOKIE, "token": ECHO_RENDERED}, "headers": {}}
    job = await run_job(runtime, project.recipes["r"], new_job("r", event))
    assert job.status == "succeeded", job.error
    echoed = json.loads(job.steps[0].calls[0].response.body)
    assert echoed["headers"]["Authorization"] == "Bearer ***"
    assert echoed["headers"]["Cookie"] == "***"
    assert echoed["headers"]["Proxy-Authorization"] == "Basic ***"
    assert echoed["json"] == {"note": "plain"}
    assert job.steps[1].output["body"]["headers"]["Authorization"] == "Token ***"
    text = json.dumps([step.to_json() for step in job.steps])  # the event holds them as data
    for value in (ECHO_TOKEN, ECHO_COOKIE, ECHO_PROXY, ECHO_RENDERED, "cHJveHk6cGFzcy05OQ"):
        assert value not in text
    # The values belong to that job's records: the process-wide redactor (logs, other jobs)
    # does not collect every job's tokens.
    assert runtime.redactor.redact_text(ECHO_RENDERED) == ECHO_RENDERED


async def test_optional_secrets_default_when_missing_and_are_used_when_provided(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: send
    request:
      connection: api
      url: /opt
      headers:
        X-Default: "{{ secrets.OPT_KEY | default('none') }}"
        X-Defined: "{{ secrets.OPT_KEY is defined }}"
        X-File: "{{ secrets['db-password'] | default('none') }}"
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    first = sink.recorder.requests[0].headers
    assert (first["X-Default"], first["X-Defined"], first["X-File"]) == ("none", "false", "none")
    job = await run_recipe(project, "r", env={"OPT_KEY": "opt-key-value-1", "db-password": "pw-value-2"})
    assert job.status == "succeeded", job.error
    second = sink.recorder.requests[1].headers
    assert (second["X-Default"], second["X-Defined"], second["X-File"]) == (
        "opt-key-value-1", "true", "pw-value-2")
    assert "opt-key-value-1" not in stored(job) and "pw-value-2" not in stored(job)


async def test_an_unguarded_missing_secret_still_fails_the_step(sink, make_project, run_recipe):
    project = make_project(docs(sink.url, """
  - id: send
    request: {connection: api, url: /x, headers: {X-Key: "key {{ secrets.REQUIRED_KEY }}"}}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "failed"
    assert job.error.startswith("step send: secret REQUIRED_KEY is not provided: set the "
                                "environment variable REQUIRED_KEY")
    assert sink.recorder.requests == []
