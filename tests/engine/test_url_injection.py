"""Data rendered into a connection's URL stays under its base_url: it can neither make the URL
absolute (the connection's credentials would go to that host) nor climb out of the base path."""

from __future__ import annotations

import pytest

from tests.support.documents import api_documents as docs

KEY = "api-key-77c1e0"
AUTH = 'auth: {type: header, headers: {X-Api-Key: "{{ secrets.KEY }}"}}'


@pytest.mark.parametrize(("url", "value", "error"), [
    ('"{{ trigger.body.id }}/details"', "http://evil.test/steal",
     "url is written as a path but renders to an absolute URL"),
    ('"/items/{{ trigger.body.id }}"', "../../admin", "url leaves base_url's path /api"),
    ('"/items/{{ trigger.body.id }}"', "%2e%2e/%2e%2e/admin", "url leaves base_url's path /api"),
])
async def test_data_cannot_move_a_request_off_its_connection(
    url, value, error, sink, make_project, run_recipe
):
    project = make_project(docs(f"{sink.url}/api", f"""
  - id: s
    request: {{connection: api, url: {url}}}
""", AUTH))
    job = await run_recipe(project, "r", {"body": {"id": value}, "headers": {}}, env={"KEY": KEY})
    assert job.status == "failed" and error in job.error
    assert sink.recorder.requests == []


async def test_urls_the_recipe_writes_may_be_absolute(sink, make_project, run_recipe):
    project = make_project(docs(f"{sink.url}/api", f"""
  - id: written
    request: {{connection: api, url: "{sink.url}/other/{{{{ trigger.body.id }}}}"}}
  - id: from_vars
    request: {{connection: api, url: "{{{{ vars.root }}}}/x"}}
  - id: under
    request: {{connection: api, url: "/items/{{{{ trigger.body.id }}}}/../7"}}
""", AUTH).replace("trigger: {webhook: {}}", f"vars: {{root: '{sink.url}/v'}}\ntrigger: {{webhook: {{}}}}"))
    job = await run_recipe(project, "r", {"body": {"id": "5"}, "headers": {}}, env={"KEY": KEY})
    assert job.status == "succeeded", job.error
    assert [r.path for r in sink.recorder.requests] == ["/other/5", "/v/x", "/api/items/7"]
