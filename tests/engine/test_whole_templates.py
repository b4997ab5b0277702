"""`params`, `headers` and `form` written as one template that renders to a mapping, as `json:`
may be ("any string value may contain Jinja"); anything else is refused where it is written."""

from __future__ import annotations

from runner.recipe.loader import load_text
from tests.support.documents import api_documents as docs

EVENT = {"body": {"fields": {"name": "Ada", "tags": ["a", "b"]}, "query": {"page": 2},
                  "extra": {"X-Trace": "t-1"}, "oops": [1, 2]}, "headers": {}}


async def test_form_params_and_headers_may_each_be_one_template(sink, make_project, run_recipe):
    project = make_project(docs(sink.url, """
  - id: send
    request:
      connection: api
      method: POST
      url: /form
      params: "{{ trigger.body.query }}"
      headers: "{{ trigger.body.extra }}"
      form: "{{ trigger.body.fields }}"
"""))
    job = await run_recipe(project, "r", event=EVENT)
    assert job.status == "succeeded", job.error
    sent = sink.recorder.requests[0]
    assert sent.body == b"name=Ada&tags=a&tags=b"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (sent.query["page"], sent.headers["X-Trace"]) == ("2", "t-1")


async def test_a_template_that_does_not_give_a_mapping_fails_the_step(sink, make_project, run_recipe):
    project = make_project(docs(sink.url, """
  - id: send
    request: {connection: api, method: POST, url: /form, form: "{{ trigger.body.oops }}"}
"""))
    job = await run_recipe(project, "r", event=EVENT)
    assert job.status == "failed"
    assert job.error == "step send: form must render to a mapping, got a list"
    assert sink.recorder.requests == []


def test_a_plain_string_is_refused_where_it_is_written() -> None:
    result = load_text(docs("http://127.0.0.1:9", """
  - id: send
    request: {connection: api, url: /x, params: "page=2"}
"""), "r.yaml")
    [problem] = [d for d in result.diagnostics if d.severity == "error"]
    assert problem.message == ("steps[0].request.params: expected a mapping, or a template "
                               "({{ ... }}) that renders to one; got a string without {{ }}")
