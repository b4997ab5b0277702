"""TLS, proxies, redirects (and the egress rules on each hop), and every auth type on the wire."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from runner.http.auth import basic_header
from runner.http.client import ConnectionClient
from runner.http.egress import EgressPolicy
from tests.support.certs import TLSFiles
from tests.support.servers import RecordingSink, Reply, serve_app


def docs(connection: str, steps: str) -> str:
    return f"""
kind: connection
name: api
{connection}
---
kind: recipe
name: r
trigger: {{webhook: {{}}}}
steps:
{steps}
"""


GET_PING = """
  - id: ping
    request: {connection: api, url: /ping}
"""

# --------------------------------------------------------------------------------------------
# TLS


async def test_a_client_certificate_opens_a_server_that_requires_one(
    tls_files: TLSFiles, make_project, run_recipe
):
    sink = RecordingSink()
    async with serve_app(sink.make_app(), tls_files.server_context()) as url:
        project = make_project(docs(f"""
base_url: {url}
private_network: true
tls: {{ca_bundle: {tls_files.ca}, client_cert: {tls_files.client_cert},
       client_key: {tls_files.client_key}}}
""", GET_PING))
        job = await run_recipe(project, "r")
    assert job.status == "succeeded", job.error
    assert url.startswith("https://")


async def test_without_the_client_certificate_the_tls_error_is_reported(
    tls_files: TLSFiles, make_project, run_recipe
):
    sink = RecordingSink()
    async with serve_app(sink.make_app(), tls_files.server_context()) as url:
        project = make_project(docs(f"""
base_url: {url}
private_network: true
tls: {{ca_bundle: {tls_files.ca}}}
""", GET_PING))
        job = await run_recipe(project, "r")
    assert job.status == "failed"
    assert f"step ping: GET {url}/ping failed: no response: " in job.error
    assert "tls.client_cert" in job.error
    assert sink.requests == []


@pytest.mark.parametrize(("tls", "works"), [
    ("{}", False),  # the system's CAs do not know the test CA
    ("{verify: false}", True),
    ("{ca_bundle: CA}", True),
])
async def test_server_verification_follows_verify_and_ca_bundle(
    tls, works, tls_files: TLSFiles, make_project, run_recipe
):
    sink = RecordingSink()
    async with serve_app(sink.make_app(), tls_files.server_context(False)) as url:
        project = make_project(docs(f"""
base_url: {url}
private_network: true
tls: {tls.replace("CA", str(tls_files.ca))}
""", GET_PING))
        job = await run_recipe(project, "r")
    assert (job.status == "succeeded") is works, job.error
    if not works:
        assert "TLS certificate not accepted" in job.error


async def test_unreadable_tls_files_fail_at_start_up(make_project, make_runtime, tmp_path):
    from runner.errors import RunnerError

    project = make_project(docs(f"""
base_url: https://example.com
tls: {{client_cert: {tmp_path}/missing.pem}}
""", GET_PING))
    with pytest.raises(RunnerError, match="connection api: cannot load TLS files"):
        make_runtime(project)


# --------------------------------------------------------------------------------------------
# A forward proxy: records what it is asked for and forwards it to `target`.


class Proxy:
    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[tuple[str, str, str | None]] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, str(request.url),
                          request.headers.get("Proxy-Authorization")))
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "proxy-authorization", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
            request.method, self.target + request.path_qs, headers=headers,
            data=await request.read(), allow_redirects=False,
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "location", "retry-after")}
            return web.Response(status=answer.status, body=body, headers=kept)


@pytest.fixture
async def proxied(sink) -> AsyncIterator[tuple[Proxy, str]]:
    proxy = Proxy(sink.url)
    async with serve_app(proxy.make_app()) as url:
        yield proxy, url


async def test_requests_go_through_the_proxy_with_its_credentials_redacted(
    sink, proxied, make_project, run_recipe
):
    proxy, proxy_url = proxied
    host = proxy_url.removeprefix("http://")
    project = make_project(docs(f"""
base_url: http://api.example.test/v1
proxy: "http://agent:{{{{ secrets.PROXY_PASSWORD }}}}@{host}"
""", GET_PING))
    job = await run_recipe(project, "r", env={"PROXY_PASSWORD": "proxy-pw-123"})
    assert job.status == "succeeded", job.error
    assert proxy.seen == [("GET", "http://api.example.test/v1/ping",
                           basic_header("agent", "proxy-pw-123"))]
    assert [r.path for r in sink.recorder.requests] == ["/v1/ping"]
    assert "proxy-pw-123" not in json.dumps(job.to_json())


async def test_a_redirect_to_a_loopback_address_is_refused_without_private_network(
    sink, proxied, make_project, run_recipe
):
    """The first hop must be allowed while private_network is false: a public name through a
    proxy is (the proxy resolves it); the redirect names 127.0.0.1, which is checked here."""
    proxy, proxy_url = proxied
    sink.recorder.script("/start", Reply(302, headers={"Location": f"{sink.url}/internal"}))
    project = make_project(docs(f"""
base_url: http://public.example.test
proxy: {proxy_url}
""", """
  - id: go
    request: {connection: api, url: /start}
"""))
    job = await run_recipe(project, "r")
    assert job.status == "failed"
    assert f"redirect to {sink.url} refused: 127.0.0.1 is a loopback address" in job.error
    assert "private_network: true" in job.error
    assert [r.path for r in sink.recorder.requests] == ["/start"]


# --------------------------------------------------------------------------------------------
# Egress on redirects without a proxy: a policy that takes 127.0.0.2 for a public address,
# and a resolver that plays DNS, so that the connector's own checks run on every hop.


class PretendPublic(EgressPolicy):
    """The production policy, except that 127.0.0.2 stands in for a public address."""

    def check_address(self, ip: Any, *, host: str | None = None) -> None:
        if str(ip) != "127.0.0.2":
            super().check_address(ip, host=host)


class FakeDNS(AbstractResolver):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return [ResolveResult(hostname=host, host=self.names[host], port=port,
                              family=socket.AF_INET, proto=0, flags=0)]

    async def close(self) -> None:
        pass


@pytest.fixture
async def public_sink() -> AsyncIterator[tuple[RecordingSink, int]]:
    sink = RecordingSink()
    runner = web.AppRunner(sink.make_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    yield sink, runner.addresses[0][1]
    await runner.cleanup()


@pytest.mark.parametrize("target", ["http://internal.test:{port}/x", "http://127.0.0.1:{port}/x"])
async def test_a_redirect_to_a_name_or_address_that_is_private_is_refused(
    target, public_sink, sink, make_project, make_runtime, run_recipe
):
    public, port = public_sink
    location = target.format(port=sink.url.rsplit(":", 1)[1])
    public.script("/start", Reply(302, headers={"Location": location}))
    project = make_project(docs(f"base_url: http://public.test:{port}", """
  - id: go
    request: {connection: api, url: /start}
"""))
    runtime = make_runtime(project)
    client = runtime.connections["api"].client
    runtime.connections["api"].client = ConnectionClient(replace(
        client.settings, policy=PretendPublic(),
        resolver=FakeDNS({"public.test": "127.0.0.2", "internal.test": "127.0.0.1"}),
    ))
    job = await run_recipe(project, "r", runtime=runtime)
    await runtime.connections["api"].client.close()
    assert job.status == "failed"
    start = f"step go: GET http://public.test:{port}/start failed: redirect to "
    assert job.error.startswith(start)
    assert "refused" in job.error and "127.0.0.1" in job.error and "loopback address" in job.error
    assert [r.path for r in public.requests] == ["/start"]
    assert sink.recorder.requests == []


# --------------------------------------------------------------------------------------------
# Redirects


CUSTOM_AUTH = """
auth:
  type: custom
  username: user
  password: "{{ secrets.PASSWORD }}"
  headers: {X-Api-Key: "{{ secrets.KEY }}"}
  params: {api_key: "{{ secrets.KEY }}"}
headers: {X-Other-Secret: "{{ secrets.KEY }}", X-Plain: plain}
"""
SECRETS = {"PASSWORD": "pass-word-1", "KEY": "key-value-1"}


async def test_get_follows_redirects_on_the_same_origin_with_credentials(
    sink, make_project, run_recipe
):
    sink.recorder.script("/a", Reply(301, headers={"Location": "/b?x=1"}))
    sink.recorder.script("/b", Reply(307, headers={"Location": f"{sink.url}/c"}))
    sink.recorder.script("/c", Reply(json={"done": True}))
    project = make_project(docs(f"base_url: {sink.url}\nprivate_network: true\n{CUSTOM_AUTH}", """
  - id: go
    request: {connection: api, url: /a}
"""))
    job = await run_recipe(project, "r", env=SECRETS)
    assert job.status == "succeeded", job.error
    assert job.steps[0].output["body"] == {"done": True}
    a, b, c = sink.recorder.requests
    for request in (a, b, c):
        assert request.headers["X-Api-Key"] == "key-value-1"
        assert request.query.getall("api_key") == ["key-value-1"]
        assert request.headers["Authorization"].startswith("Basic ")
    assert b.query["x"] == "1"
    assert job.steps[0].calls[0].redirects == [f"{sink.url}/b?x=1", f"{sink.url}/c"]


async def test_credentials_never_follow_a_redirect_to_another_origin(
    sink, make_project, run_recipe
):
    other = RecordingSink()
    async with serve_app(other.make_app()) as other_url:
        sink.recorder.script("/a", Reply(302, headers={"Location": f"{other_url}/landing"}))
        project = make_project(docs(
            f"base_url: {sink.url}\nprivate_network: true\n{CUSTOM_AUTH}", """
  - id: go
    request: {connection: api, url: /a}
"""))
        job = await run_recipe(project, "r", env=SECRETS)
    assert job.status == "succeeded", job.error
    landed = other.requests[0]
    for name in ("Authorization", "X-Api-Key", "X-Other-Secret"):
        assert name not in landed.headers
    assert "api_key" not in landed.query
    assert landed.headers["X-Plain"] == "plain"


async def test_at_most_five_redirects_are_followed(sink, make_project, run_recipe):
    sink.recorder.default = Reply(302, headers={"Location": "/again"})
    project = make_project(docs(f"base_url: {sink.url}\nprivate_network: true", GET_PING))
    job = await run_recipe(project, "r")
    assert len(sink.recorder.requests) == 6
    assert job.error == (f"step ping: GET {sink.url}/ping answered 302 Found: stopped after 5 "
                         "redirects (the limit); body starts with: (empty)")


async def test_post_does_not_follow_redirects(sink, make_project, run_recipe):
    sink.recorder.script("/make", Reply(303, headers={"Location": "/made"}))
    project = make_project(docs(f"base_url: {sink.url}\nprivate_network: true", """
  - id: make
    request: {connection: api, method: POST, url: /make, json: {}}
"""))
    job = await run_recipe(project, "r")
    assert [r.path for r in sink.recorder.requests] == ["/make"]
    assert "answered 303 See Other (expected 2xx)" in job.error


# --------------------------------------------------------------------------------------------
# Auth types, against httpbin


@pytest.mark.parametrize(("auth", "url", "check"), [
    ("{type: none}", "/anything", lambda b: "Authorization" not in b["headers"]),
    ("{type: basic, username: ann, password: '{{ secrets.PW }}'}", "/basic-auth/ann/pw-secret-9",
     lambda b: b == {"authenticated": True, "user": "ann"}),
    ("{type: header, headers: {Authorization: 'Bearer {{ secrets.PW }}'}}", "/bearer",
     lambda b: b == {"authenticated": True, "token": "***"}),
    ("{type: query, params: {api_key: '{{ secrets.PW }}'}}", "/anything",
     lambda b: b["args"]["api_key"] == "***"),
    ("{type: custom, headers: {X-Key: '{{ secrets.PW }}'}, params: {k: v}, username: u, "
     "password: '{{ secrets.PW }}'}", "/anything",
     lambda b: b["headers"]["X-Key"] == "***" and b["args"]["k"] == "v"
     and b["headers"]["Authorization"].startswith("Basic ")),
])
async def test_every_auth_type_reaches_httpbin_and_stays_redacted(
    auth, url, check, httpbin_url, make_project, run_recipe
):
    project = make_project(docs(f"""
base_url: {httpbin_url}
private_network: true
auth: {auth}
headers: {{X-Default: d}}
params: {{p: "1"}}
""", f"""
  - id: call
    request: {{connection: api, url: "{url}"}}
"""))
    job = await run_recipe(project, "r", env={"PW": "pw-secret-9"})
    assert job.status == "succeeded", job.error
    body = json.loads(job.steps[0].calls[0].response.body)  # the record: redacted
    assert check(body)
    assert "pw-secret-9" not in json.dumps(job.to_json())
    if url == "/anything":
        assert body["headers"]["X-Default"] == "d" and body["args"].get("p", "1") == "1"


async def test_a_401_echoing_the_credentials_is_redacted_in_the_error(
    make_project, run_recipe
):
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"error": "denied", "you_sent": dict(request.headers)},
                                 status=401)

    app = web.Application()
    app.router.add_get("/me", echo)
    async with serve_app(app) as url:
        project = make_project(docs(f"""
base_url: {url}
private_network: true
auth: {{type: basic, username: ann, password: "{{{{ secrets.PW }}}}"}}
""", """
  - id: me
    request: {connection: api, url: /me}
"""))
        job = await run_recipe(project, "r", env={"PW": "pw-secret-9"})
    assert job.status == "failed"
    assert '"Authorization": "Basic ***"' in job.error
    for text in (job.error, json.dumps(job.to_json())):
        assert "pw-secret-9" not in text
        assert basic_header("ann", "pw-secret-9").split()[1] not in text


async def test_a_secret_across_the_cut_of_the_body_start_is_not_half_shown(
    make_project, run_recipe
):
    key = "sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text="x" * 180 + " key=" + request.headers["X-Api-Key"] + " end",
                            status=400)

    app = web.Application()
    app.router.add_get("/x", echo)
    async with serve_app(app) as url:
        project = make_project(docs(f"""
base_url: {url}
private_network: true
auth: {{type: header, headers: {{X-Api-Key: "{{{{ secrets.API_KEY }}}}"}}}}
""", """
  - id: s
    request: {connection: api, url: /x}
"""))
        job = await run_recipe(project, "r", env={"API_KEY": key})
    assert job.error.endswith("body starts with: " + "x" * 180 + " key=*** end")
    for text in (job.error, json.dumps(job.to_json())):
        assert "sk_live_ABC" not in text


# --------------------------------------------------------------------------------------------
# The egress policy through the engine


async def test_a_bare_url_to_a_loopback_address_is_refused_and_not_retried(
    sink, make_project, run_recipe
):
    project = make_project(docs(f"base_url: {sink.url}", f"""
  - id: bare
    retry: {{attempts: 3, backoff: 10ms}}
    request: {{url: "{sink.url}/internal"}}
"""))
    job = await run_recipe(project, "r")
    assert job.error == (f"step bare: GET {sink.url}/internal failed: refused: 127.0.0.1 is a "
                         "loopback address; a request without a connection reaches public "
                         "addresses only; send it through a connection with private_network: "
                         "true")
    assert len(job.steps[0].calls[0].attempts) == 1
    assert sink.recorder.requests == []


async def test_allow_hosts_is_the_complete_list_of_reachable_hosts(
    sink, make_project, run_recipe
):
    # A template, which `runner validate` leaves to run time (a written one it reports).
    project = make_project(docs(f"""
base_url: "{{{{ '{sink.url}' }}}}"
private_network: true
allow_hosts: [api.example.com]
""", GET_PING))
    job = await run_recipe(project, "r")
    assert "refused: 127.0.0.1 is not in allow_hosts (api.example.com)" in job.error
    assert sink.recorder.requests == []


async def test_a_timeout_after_a_redirect_is_a_timeout_not_the_redirect(
    sink, make_project, run_recipe
):
    sink.recorder.script("/a", Reply(302, headers={"Location": "/b"}))
    sink.recorder.script("/b", Reply(delay=1.0))
    project = make_project(docs(f"base_url: {sink.url}\nprivate_network: true", """
  - id: go
    request: {connection: api, url: /a, timeout: 200ms}
"""))
    job = await run_recipe(project, "r")
    assert job.error == f"step go: GET {sink.url}/a failed: timeout: no response within 0.2s"
    assert job.steps[0].calls[0].response is None
