"""Which redirects are followed: a 3xx that `expect` lists is the answer; only http(s) targets."""

from __future__ import annotations

from yarl import URL

from runner.http.client import ClientSettings, ConnectionClient, OutgoingRequest
from runner.http.egress import EgressPolicy
from runner.redact import Redactor
from tests.support.documents import api_documents as docs
from tests.support.servers import Reply


async def test_a_redirect_whose_status_expect_lists_is_the_answer(sink, make_project, run_recipe):
    sink.recorder.script("/login", Reply(302, headers={"Location": "/landing"}))
    project = make_project(docs(sink.url, """
  - id: login
    request: {connection: api, url: /login, expect: [302]}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert [r.path for r in sink.recorder.requests] == ["/login"]
    output = job.steps[0].output
    assert output["status"] == 302
    assert output["headers"]["Location"] == "/landing"
    assert job.steps[0].calls[0].redirects == []


async def test_head_with_the_redirect_expected_is_not_followed_either(sink):
    sink.recorder.script("/old", Reply(301, headers={"Location": "/new"}))
    client = ConnectionClient(ClientSettings("api", policy=EgressPolicy(private_network=True)))
    try:
        exchange = await client.send(OutgoingRequest("HEAD", URL(f"{sink.url}/old"),
                                                     expect=frozenset({200, 301})))
    finally:
        await client.close()
    assert exchange.status == 301 and exchange.redirects == []
    assert [r.path for r in sink.recorder.requests] == ["/old"]


async def test_a_redirect_whose_status_expect_does_not_list_is_followed(
    sink, make_project, run_recipe
):
    sink.recorder.script("/a", Reply(302, headers={"Location": "/b"}))
    sink.recorder.script("/b", Reply(json={"here": True}))
    project = make_project(docs(sink.url, """
  - id: go
    request: {connection: api, url: /a, expect: [200, 301]}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert [r.path for r in sink.recorder.requests] == ["/a", "/b"]
    assert job.steps[0].output["body"] == {"here": True}


async def test_a_redirect_to_a_file_url_is_refused_and_the_error_says_so(
    sink, make_project, run_recipe
):
    sink.recorder.script("/a", Reply(302, headers={"Location": "file:///etc/passwd"}))
    project = make_project(docs(sink.url, """
  - id: go
    request: {connection: api, url: /a}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "failed"
    assert job.error == (
        f"step go: GET {sink.url}/a failed: redirect from {sink.url}/a to file:///etc/passwd "
        "refused: only http and https redirects are followed"
    )
    assert [r.path for r in sink.recorder.requests] == ["/a"]


async def test_a_refused_redirect_is_not_retried_and_its_urls_are_redacted(
    sink, make_project, run_recipe
):
    sink.recorder.default = Reply(
        302, headers={"Location": "ftp://files.example/dump?token=abc123&name=key-value-1"}
    )
    project = make_project(docs(sink.url, """
  - id: go
    request: {connection: api, url: /a}
""", 'auth: {type: query, params: {api_key: "{{ secrets.KEY }}"}}\n'
     "retry: {attempts: 3, backoff: 10ms, on: [302, timeout, connection]}"))
    job = await run_recipe(project, "r", env={"KEY": "key-value-1"})
    assert job.status == "failed"
    assert len(sink.recorder.requests) == 1
    assert "key-value-1" not in job.error and "abc123" not in job.error
    assert f"redirect from {sink.url}/a?api_key=*** to ftp://files.example/dump?" in job.error
    assert "only http and https redirects are followed" in job.error
    attempt = job.steps[0].calls[0].attempts[0]
    assert "key-value-1" not in attempt.error and "abc123" not in attempt.error


async def test_the_client_redacts_the_refused_redirect_itself(sink):
    sink.recorder.script("/a", Reply(307, headers={"Location": "javascript:alert(1)"}))
    client = ConnectionClient(ClientSettings(
        "api", policy=EgressPolicy(private_network=True), redactor=Redactor(["s3cr3t-value"]),
    ))
    try:
        exchange = await client.send(OutgoingRequest("GET", URL(f"{sink.url}/a"),
                                                     params=[("k", "s3cr3t-value")]))
    finally:
        await client.close()
    assert exchange.refused and exchange.status is None
    assert exchange.error == (f"redirect from {sink.url}/a?k=*** to javascript:alert(1) refused: "
                              "only http and https redirects are followed")


async def test_credentials_dropped_at_another_origin_stay_dropped_when_it_redirects_back(
    sink, make_project, run_recipe
):
    from aiohttp import web

    from tests.support.servers import serve_app

    async def bounce(request: web.Request) -> web.Response:  # origin B picks a path on A
        raise web.HTTPFound(f"{sink.url}/chosen-by-b?x=1")

    app = web.Application()
    app.router.add_get("/b", bounce)
    async with serve_app(app) as other:
        sink.recorder.script("/a", Reply(302, headers={"Location": f"{other}/b"}))
        project = make_project(docs(sink.url, """
  - id: go
    request: {connection: api, url: /a}
""", 'auth: {type: basic, username: u, password: "{{ secrets.PW }}"}'))
        job = await run_recipe(project, "r", env={"PW": "pw-back-123"})
    assert job.status == "succeeded", job.error
    [chosen] = sink.recorder.for_path("/chosen-by-b")
    assert "Authorization" not in chosen.headers
    assert "Authorization" in sink.recorder.for_path("/a")[0].headers
