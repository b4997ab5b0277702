"""The shared test servers work: httpbin, any aiohttp app, the recording sink, and mutual TLS."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.certs import TLSFiles, make_certificates
from tests.support.servers import RecordingSink, Reply, httpbin_server, serve_app, start_app


@pytest.fixture(scope="module")
def httpbin_url() -> Iterator[str]:
    with httpbin_server() as url:
        yield url


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


async def test_httpbin_serves_auth_echo_status_and_redirects(httpbin_url: str) -> None:
    async with aiohttp.ClientSession(httpbin_url) as http:
        async with http.get("/basic-auth/u/p", headers=_basic("u", "p")) as r:
            assert r.status == 200 and (await r.json())["authenticated"] is True
        async with http.get("/basic-auth/u/p", headers=_basic("u", "wrong")) as r:
            assert r.status == 401
        async with http.get("/bearer", headers={"Authorization": "Bearer abc"}) as r:
            assert r.status == 200 and (await r.json())["token"] == "abc"
        async with http.get("/bearer") as r:
            assert r.status == 401
        async with http.post("/anything/x?q=1", json={"a": 1}) as r:
            echoed = await r.json()
            assert echoed["json"] == {"a": 1} and echoed["args"] == {"q": "1"}
        async with http.get("/status/503") as r:
            assert r.status == 503
        async with http.get("/redirect-to", params={"url": "/get"}, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/get"


async def test_httpbin_delay_is_served_concurrently(httpbin_url: str) -> None:
    started = time.monotonic()
    async with aiohttp.ClientSession(httpbin_url) as http:
        async with http.get("/delay/1") as slow, http.get("/get") as fast:
            assert slow.status == 200 and fast.status == 200
    assert 1.0 <= time.monotonic() - started < 3.0


async def test_start_app_serves_on_a_free_port_until_cleanup() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    base_url, cleanup = await start_app(app)
    assert base_url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http:
        async with http.get(base_url + "/") as r:
            assert await r.text() == "hello"
        await cleanup()
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(base_url + "/")


async def test_sink_records_requests_and_answers_by_default() -> None:
    sink = RecordingSink()
    async with serve_app(sink.make_app()) as base_url, aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/hook?a=1&a=2", json={"x": 1}, headers={"X-T": "v"}) as r:
            assert r.status == 200 and await r.json() == {"ok": True}
    [seen] = sink.requests
    assert (seen.method, seen.path) == ("POST", "/hook")
    assert seen.query.getall("a") == ["1", "2"]
    assert seen.headers["x-t"] == "v" and seen.json() == {"x": 1}


async def test_sink_plays_scripted_replies_in_order_then_default() -> None:
    sink = RecordingSink(default=Reply(204))
    sink.script("/items", Reply(503, headers={"Retry-After": "1"}), Reply(201, json={"id": 7}))
    sink.script("GET /items", Reply(200, body="listing", content_type="text/csv"))
    async with serve_app(sink.make_app()) as base_url, aiohttp.ClientSession(base_url) as http:
        async with http.get("/items") as r:
            assert (r.status, await r.text(), r.content_type) == (200, "listing", "text/csv")
        async with http.post("/items") as r:
            assert r.status == 503 and r.headers["Retry-After"] == "1"
        async with http.post("/items") as r:
            assert r.status == 201 and await r.json() == {"id": 7}
        async with http.post("/items") as r:
            assert r.status == 204
    assert len(sink.for_path("/items")) == 4


async def test_sink_delay_makes_a_client_time_out() -> None:
    sink = RecordingSink()
    sink.script("/slow", Reply(delay=0.5))
    timeout = aiohttp.ClientTimeout(total=0.1)
    async with serve_app(sink.make_app()) as base_url, aiohttp.ClientSession() as http:
        with pytest.raises(TimeoutError):
            await http.get(f"{base_url}/slow", timeout=timeout)
        await sink.wait_for(1)


async def test_sink_reset_drops_the_connection() -> None:
    sink = RecordingSink()
    sink.script("/reset", Reply(reset=True))
    async with serve_app(sink.make_app()) as base_url, aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientOSError):
            await http.post(f"{base_url}/reset", data=b"x")
        async with http.post(f"{base_url}/reset") as r:  # the script is used up
            assert r.status == 200
    assert len(sink.requests) == 2


async def test_sink_malformed_json_is_labelled_json() -> None:
    sink = RecordingSink(default=Reply(malformed_json=True))
    async with serve_app(sink.make_app()) as base_url, aiohttp.ClientSession() as http:
        async with http.get(f"{base_url}/x") as r:
            assert r.content_type == "application/json"
            with pytest.raises(json.JSONDecodeError):
                await r.json()


async def test_sink_wait_for_times_out() -> None:
    with pytest.raises(TimeoutError, match="0 of 1 requests"):
        await RecordingSink().wait_for(1, timeout=0.05)


def test_certificates_are_written_as_pem(tls: TLSFiles) -> None:
    for path in (tls.ca, tls.server_cert, tls.client_cert):
        assert path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    for path in (tls.server_key, tls.client_key):
        assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert {p.name for p in Path(tls.ca).parent.iterdir()} >= {
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key"
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_mutual_tls_accepts_only_clients_with_a_certificate(tls: TLSFiles, host: str) -> None:
    sink = RecordingSink()
    async with serve_app(sink.make_app(), tls.server_context()) as base_url:
        url = base_url.replace("127.0.0.1", host) + "/secure"
        async with aiohttp.ClientSession() as http:
            async with http.get(url, ssl=tls.client_context()) as r:
                assert r.status == 200
            with pytest.raises(aiohttp.ClientError):
                async with http.get(url, ssl=tls.client_context(with_client_cert=False)) as r:
                    await r.read()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(url, ssl=ssl.create_default_context())  # CA not trusted
    assert len(sink.requests) == 1
