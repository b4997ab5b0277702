"""One job from event to last step, against a real recording sink on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.engine.job import new_job, run_job
from runner.engine.records import JobRecord, StepRecord
from tests.support.servers import Reply


def docs(sink_url: str, steps: str, extra: str = "") -> str:
    """A `sink` connection to the recording sink and a webhook recipe `r` with `steps`."""
    return f"""
kind: connection
name: sink
base_url: {sink_url}/api
private_network: true
{extra}
---
kind: recipe
name: r
trigger: {{webhook: {{}}}}
steps:
{steps}
"""


async def test_native_values_arrive_with_their_json_types(sink, make_project, run_recipe):
    project = make_project(docs(sink.url, """
  - id: send
    request:
      connection: sink
      method: POST
      url: /orders
      json: {amount: "{{ trigger.body.amount }}", paid: "{{ trigger.body.paid }}",
             items: "{{ trigger.body.items }}", none: "{{ trigger.body.none }}",
             text: "Order {{ trigger.body.amount }}", forced: "{{ trigger.body.amount | string }}"}
"""))
    event = {"body": {"amount": 12.5, "paid": True, "items": [{"sku": "a"}], "none": None}}
    job = await run_recipe(project, "r", event)
    assert job.status == "succeeded", job.error
    sent = sink.recorder.requests[0]
    assert sent.path == "/api/orders"
    assert sent.json() == {"amount": 12.5, "paid": True, "items": [{"sku": "a"}], "none": None,
                           "text": "Order 12.5", "forced": "12.5"}


async def test_data_from_events_and_responses_is_never_rendered_again(
    sink, make_project, run_recipe
):
    sink.recorder.script("/api/first", Reply(json={"echo": "{{ 6*7 }}"}))
    project = make_project(docs(sink.url, """
  - id: first
    request: {connection: sink, url: /first}
  - id: second
    request:
      connection: sink
      method: POST
      url: /second
      json: {from_event: "{{ trigger.body.text }}", from_step: "{{ steps.first.body.echo }}",
             mixed: "<{{ trigger.body.text }}>"}
"""))
    job = await run_recipe(project, "r", {"body": {"text": "{{ 7*7 }}"}})
    assert job.status == "succeeded", job.error
    assert sink.recorder.for_path("/api/second")[0].json() == {
        "from_event": "{{ 7*7 }}", "from_step": "{{ 6*7 }}", "mixed": "<{{ 7*7 }}>"}


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format(trigger.body) }}",
    "{{ trigger.body.text.__len__() }}",
])
async def test_sandbox_escapes_fail_the_step_with_a_clear_error(
    template, sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, f"""
  - id: escape
    request: {{connection: sink, method: POST, url: /x, json: {{v: "{template}"}}}}
"""))
    job = await run_recipe(project, "r", {"body": {"text": "hi"}})
    assert job.status == "failed"
    assert job.error.startswith("step escape: ")
    assert "not allowed" in job.error or "is undefined" in job.error
    assert sink.recorder.requests == []


async def test_an_undefined_datapill_names_the_full_path_and_what_was_there(
    sink, make_project, run_recipe
):
    sink.recorder.script("/api/venue", Reply(json={"id": 1, "name": "Hall"}))
    project = make_project(docs(sink.url, """
  - id: create_venue
    request: {connection: sink, url: /venue}
  - id: use
    request: {connection: sink, url: "/use/{{ steps.create_venue.body.venue.id }}"}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "failed"
    assert job.error == ("step use: steps.create_venue.body.venue.id is undefined; "
                         "steps.create_venue.body has keys: id, name")
    assert len(sink.recorder.requests) == 1


async def test_a_false_if_skips_the_step_and_later_steps_see_skipped(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: maybe
    if: "{{ trigger.body.country is defined }}"
    request: {connection: sink, url: /maybe}
  - id: after
    request: {connection: sink, url: /after, params: {skipped: "{{ steps.maybe.skipped }}"}}
"""))
    job = await run_recipe(project, "r", {"body": {}})
    assert job.status == "succeeded", job.error
    assert [s.status for s in job.steps] == ["skipped", "succeeded"]
    assert job.steps[0].output == {"skipped": True, "ok": True}
    assert [r.path for r in sink.recorder.requests] == ["/api/after"]
    assert sink.recorder.requests[0].query["skipped"] == "true"


async def test_for_each_sends_one_request_per_item_with_item_and_loop_index(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: each
    for_each: "{{ trigger.body.items }}"
    request:
      connection: sink
      method: POST
      url: /items
      json: {sku: "{{ item.sku }}", n: "{{ loop.index }}", of: "{{ loop.length }}"}
  - id: count
    request: {connection: sink, url: /count, params: {n: "{{ steps.each | length }}",
                                                      last: "{{ steps.each[2].body.ok }}"}}
"""))
    job = await run_recipe(project, "r", {"body": {"items": [{"sku": "a"}, {"sku": "b"},
                                                             {"sku": "c"}]}})
    assert job.status == "succeeded", job.error
    posted = sink.recorder.for_path("/api/items")
    assert [r.json() for r in posted] == [{"sku": "a", "n": 1, "of": 3},
                                         {"sku": "b", "n": 2, "of": 3},
                                         {"sku": "c", "n": 3, "of": 3}]
    keys = [r.headers["Idempotency-Key"] for r in posted]
    assert keys == [f"{job.id}-each-0", f"{job.id}-each-1", f"{job.id}-each-2"]
    assert dict(sink.recorder.for_path("/api/count")[0].query) == {"n": "3", "last": "true"}
    assert [c.index for c in job.steps[0].calls] == [0, 1, 2]


async def test_an_if_using_item_filters_elements_and_a_plain_if_guards_for_each(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: guarded
    if: "{{ trigger.body.missing is defined }}"
    for_each: "{{ trigger.body.missing }}"
    request: {connection: sink, url: /never}
  - id: filtered
    if: "{{ item > 1 }}"
    for_each: "{{ trigger.body.numbers }}"
    request: {connection: sink, url: "/n/{{ item }}"}
  - id: empty
    for_each: "{{ trigger.body.nothing }}"
    request: {connection: sink, url: /never}
"""))
    job = await run_recipe(project, "r", {"body": {"numbers": [1, 2, 3], "nothing": None}})
    assert job.status == "succeeded", job.error
    assert [r.path for r in sink.recorder.requests] == ["/api/n/2", "/api/n/3"]
    assert job.steps[0].status == "skipped"
    assert job.steps[1].output[0] == {"skipped": True, "ok": True}
    assert job.steps[2].output == []


async def test_on_error_continue_exposes_ok_error_status_headers_and_body(
    sink, make_project, run_recipe
):
    sink.recorder.script("/api/create", Reply(422, json={"message": "name taken"},
                                              headers={"X-Trace": "t1"}))
    project = make_project(docs(sink.url, """
  - id: create
    on_error: continue
    request: {connection: sink, method: POST, url: /create, json: {}}
  - id: report
    request:
      connection: sink
      method: POST
      url: /report
      json: {ok: "{{ steps.create.ok }}", status: "{{ steps.create.status }}",
             message: "{{ steps.create.body.message }}",
             trace: "{{ steps.create.headers['x-trace'] }}",
             error: "{{ steps.create.error }}"}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert job.steps[0].status == "failed"
    report = sink.recorder.for_path("/api/report")[0].json()
    assert report["ok"] is False and report["status"] == 422
    assert report["message"] == "name taken" and report["trace"] == "t1"
    assert report["error"].startswith(f"step create: POST {sink.url}/api/create answered 422")


async def test_a_failed_step_fails_the_job_naming_step_method_url_status_and_body(
    sink, make_project, run_recipe
):
    sink.recorder.script("/api/boom", Reply(500, body="internal failure: database is down"))
    project = make_project(docs(sink.url, """
  - id: boom
    request: {connection: sink, method: PUT, url: /boom, params: {a: 1}, json: {}}
  - id: never
    request: {connection: sink, url: /never}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "failed"
    assert job.error == (f"step boom: PUT {sink.url}/api/boom?a=1 answered 500 Internal Server "
                         "Error (expected 2xx); body starts with: internal failure: "
                         "database is down")
    assert [r.path for r in sink.recorder.requests] == ["/api/boom"]


async def test_expect_decides_success(sink, make_project, run_recipe):
    sink.recorder.script("/api/gone", Reply(404, json={"error": "gone"}))
    sink.recorder.script("/api/ok", Reply(200))
    project = make_project(docs(sink.url, """
  - id: gone
    request: {connection: sink, url: /gone, expect: [404]}
  - id: ok
    request: {connection: sink, url: /ok, expect: [201]}
"""))
    job = await run_recipe(project, "r")
    assert job.steps[0].status == "succeeded"
    assert "answered 200 OK (expected 201)" in job.error


async def test_idempotency_key_is_job_and_step_and_can_be_turned_off(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: keyed
    request: {connection: sink, method: POST, url: /a, json: {}}
  - id: unkeyed
    idempotency_key: false
    request: {connection: sink, method: POST, url: /b, json: {}}
  - id: own
    request: {connection: sink, method: POST, url: /c, json: {}, headers: {Idempotency-Key: mine}}
"""))
    job = await run_recipe(project, "r")
    keyed, unkeyed, own = sink.recorder.requests
    assert keyed.headers["Idempotency-Key"] == f"{job.id}-keyed"
    assert "Idempotency-Key" not in unkeyed.headers
    assert own.headers["Idempotency-Key"] == "mine"


async def test_response_headers_are_case_insensitive_in_templates_and_resumed_jobs(
    sink, make_project, run_recipe, make_runtime
):
    sink.recorder.script("/api/a", Reply(json={}, headers={"X-Request-Id": "r-9"}))
    project = make_project(docs(sink.url, """
  - id: a
    request: {connection: sink, url: /a}
  - id: b
    request: {connection: sink, url: /b, params: {lower: "{{ steps.a.headers['x-request-id'] }}",
                                                  upper: "{{ steps.a.headers['X-REQUEST-ID'] }}"}}
"""))
    job = await run_recipe(project, "r")
    assert dict(sink.recorder.for_path("/api/b")[0].query) == {"lower": "r-9", "upper": "r-9"}
    # A job resumed from its stored record sees the same, though JSON held a plain dict.
    stored = JobRecord.from_json(json.loads(json.dumps(job.to_json())))
    stored.steps = stored.steps[:1]
    resumed = await run_job(make_runtime(project), project.recipes["r"], stored)
    assert resumed.status == "succeeded", resumed.error
    assert dict(sink.recorder.for_path("/api/b")[1].query) == {"lower": "r-9", "upper": "r-9"}
    assert len(sink.recorder.for_path("/api/a")) == 1  # the finished step was not sent again


async def test_form_raw_bodies_and_form_responses(sink, make_project, run_recipe):
    sink.recorder.script("/api/form", Reply(body="a=1&b=two", content_type=
                                            "application/x-www-form-urlencoded"))
    project = make_project(docs(sink.url, """
  - id: form
    request: {connection: sink, method: POST, url: /form,
              form: {x: "{{ trigger.body.x }}", y: [1, 2]}}
  - id: raw
    request: {connection: sink, method: POST, url: /raw, body: "b={{ steps.form.body.b }}",
              content_type: text/csv}
"""))
    job = await run_recipe(project, "r", {"body": {"x": "a b"}})
    assert job.status == "succeeded", job.error
    form, raw = sink.recorder.requests
    assert form.text == "x=a+b&y=1&y=2"
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (raw.text, raw.headers["Content-Type"]) == ("b=two", "text/csv")


async def test_malformed_json_fails_the_step_and_keeps_the_body_as_text(
    sink, make_project, run_recipe
):
    sink.recorder.script("/api/bad", Reply(malformed_json=True))
    project = make_project(docs(sink.url, """
  - id: bad
    on_error: continue
    request: {connection: sink, url: /bad}
"""))
    job = await run_recipe(project, "r")
    step = job.steps[0]
    assert step.status == "failed"
    assert "answered 200 OK, but its body is not valid JSON although it says application/json" \
        in step.error
    assert 'body starts with: {"truncated": [1, 2' in step.error
    assert step.output["body"] == '{"truncated": [1, 2'
    assert step.calls[0].response.body == '{"truncated": [1, 2'


async def test_bodies_in_records_are_cut_at_the_body_limit(
    sink, make_project, run_recipe, monkeypatch
):
    monkeypatch.setenv("RUNNER_BODY_LIMIT", "100")
    sink.recorder.script("/api/big", Reply(body="y" * 500))
    sink.recorder.script("/api/items", Reply(json={"items": [{"n": n} for n in range(40)]}))
    project = make_project(docs(sink.url, """
  - id: big
    request: {connection: sink, method: POST, url: /big, body: "{{ 'x' * 300 }}"}
  - id: items
    request: {connection: sink, url: /items}
  - id: uses
    request: {connection: sink, method: POST, url: /uses,
              json: {big: "{{ steps.big.body | length }}", last: "{{ steps.items.body['items'][-1] }}"}}
"""))
    job = await run_recipe(project, "r")
    call = job.steps[0].calls[0]
    assert (call.request.body, call.request.body_truncated) == ("x" * 100, True)
    assert (call.response.body, call.response.body_truncated) == ("y" * 100, True)
    # The stored output (history, `jobs show`) is cut too; later steps saw the whole bodies.
    assert (job.steps[0].output["body"], job.steps[0].output["body_truncated"]) == ("y" * 100, True)
    assert job.steps[1].output["body"].startswith('{"items":[{"n":0},')
    assert len(job.steps[1].output["body"]) == 100 and job.steps[1].output["body_truncated"]
    assert sink.recorder.for_path("/api/uses")[0].json() == {"big": 500, "last": {"n": 39}}


async def test_a_header_value_with_a_line_break_fails_the_step(sink, make_project, run_recipe):
    project = make_project(docs(sink.url, """
  - id: inject
    request: {connection: sink, url: /x, headers: {X-Name: "{{ trigger.body.name }}"}}
"""))
    job = await run_recipe(project, "r", {"body": {"name": "a\r\nX-Admin: yes"}})
    assert job.error == "step inject: header X-Name: the value contains a line break"
    assert sink.recorder.requests == []


async def test_secrets_never_reach_records_outputs_or_errors(sink, make_project, run_recipe):
    secret = "s3cr3t-token-value"
    sink.recorder.script("/api/echo", Reply(json={"seen": secret, "auth": f"Bearer {secret}"}))
    sink.recorder.script("/api/fail", Reply(401, body=f"bad token Bearer {secret}"))
    project = make_project(docs(sink.url, """
  - id: echo
    request: {connection: sink, method: POST, url: /echo, json: {token: "{{ secrets.API_TOKEN }}"}}
  - id: fail
    request: {connection: sink, url: "/fail?t={{ secrets.API_TOKEN }}"}
""", extra="auth: {type: header, headers: {Authorization: 'Bearer {{ secrets.API_TOKEN }}'}}"))
    job = await run_recipe(project, "r", env={"API_TOKEN": secret})
    assert sink.recorder.requests[0].headers["Authorization"] == f"Bearer {secret}"
    assert job.status == "failed"
    text = json.dumps(job.to_json())
    assert secret not in text
    assert "***" in job.error and "bad token" in job.error


async def test_dry_run_sends_nothing_and_skips_steps_needing_a_response(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: create
    request: {connection: sink, method: POST, url: /create, json: {n: "{{ trigger.body.n }}"}}
  - id: use
    request: {connection: sink, url: "/venues/{{ steps.create.body.id }}"}
  - id: plain
    request: {connection: sink, url: /plain}
"""))
    job = await run_recipe(project, "r", {"body": {"n": 1}}, dry_run=True)
    assert sink.recorder.requests == []
    assert job.status == "succeeded", job.error
    assert [s.status for s in job.steps] == ["succeeded", "skipped", "succeeded"]
    assert job.steps[0].calls[0].request.body == '{"n":1}'
    assert "needs an earlier step's response" in job.steps[1].calls[0].error


async def test_dry_run_still_fails_on_a_template_error_of_its_own(
    sink, make_project, run_recipe
):
    project = make_project(docs(sink.url, """
  - id: create
    request: {connection: sink, url: "/x/{{ trigger.body.missing }}"}
"""))
    job = await run_recipe(project, "r", {"body": {}}, dry_run=True)
    assert job.status == "failed"
    assert "trigger.body.missing is undefined" in job.error


async def test_base_url_joining_and_query_merging(sink, make_project, run_recipe):
    project = make_project(docs(sink.url, """
  - id: q
    request: {connection: sink, url: "venues/?fixed=1", params: {page: 2, tags: [a, b],
              skip: "{{ none }}", flag: true}}
""", extra="params: {key: conn}\nheaders: {Accept: application/json}").replace(
        "{{ none }}", "{{ trigger.body.none }}"))
    job = await run_recipe(project, "r", {"body": {"none": None}})
    assert job.status == "succeeded", job.error
    sent = sink.recorder.requests[0]
    assert sent.path == "/api/venues/"
    assert list(sent.query.items()) == [("fixed", "1"), ("key", "conn"), ("page", "2"),
                                        ("tags", "a"), ("tags", "b"), ("flag", "true")]
    assert sent.headers["Accept"] == "application/json"


def test_job_records_survive_a_json_round_trip() -> None:
    job = new_job("r", {"body": {"a": 1}})
    step = StepRecord("s", "succeeded", "2026-01-01T00:00:00+00:00", 1.5, output={"ok": True})
    job.steps.append(step)
    data: dict[str, Any] = json.loads(json.dumps(job.to_json()))
    assert JobRecord.from_json(data) == job


async def test_for_each_with_on_error_continue_keeps_going_and_records_each_failure(
    sink, make_project, run_recipe
):
    sink.recorder.script("/api/n/2", Reply(500, body="two failed"))
    project = make_project(docs(sink.url, """
  - id: each
    on_error: continue
    for_each: "{{ [1, 2, 3] }}"
    request: {connection: sink, url: "/n/{{ item }}"}
  - id: after
    request: {connection: sink, url: /after,
              params: {oks: "{{ steps.each | map(attribute='ok') | list }}"}}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert job.steps[0].status == "failed"
    assert job.steps[0].error.startswith("step each (item 1): GET ")
    assert [r.path for r in sink.recorder.requests] == ["/api/n/1", "/api/n/2", "/api/n/3",
                                                         "/api/after"]
    assert sink.recorder.requests[-1].query.getall("oks") == ["true", "false", "true"]
