"""A response body is held in memory only up to the limit, announced or streamed."""

from __future__ import annotations

import pytest
from aiohttp import web
from yarl import URL

from runner.http import failures
from runner.http.client import ClientSettings, ConnectionClient, OutgoingRequest
from runner.http.egress import EgressPolicy

LIMIT = 1000


async def announced(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * int(request.query["size"]))


async def streamed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(int(request.query["size"]) // 100):
        await response.write(b"y" * 100)
    await response.write_eof()
    return response


@pytest.fixture
async def client(aiohttp_server, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(failures, "MAX_RESPONSE_BYTES", LIMIT)
    app = web.Application()
    app.router.add_get("/announced", announced)
    app.router.add_get("/streamed", streamed)
    server = await aiohttp_server(app)
    conn = ConnectionClient(ClientSettings("api", policy=EgressPolicy(private_network=True)))
    conn.base = str(server.make_url("/"))  # type: ignore[attr-defined]
    yield conn
    await conn.close()


@pytest.mark.parametrize("route", ["announced", "streamed"])
async def test_a_body_within_the_limit_arrives_whole(client, route: str) -> None:  # type: ignore[no-untyped-def]
    exchange = await client.send(OutgoingRequest("GET", URL(f"{client.base}{route}?size={LIMIT}")))
    assert exchange.status == 200 and exchange.error is None
    assert len(exchange.body) == LIMIT


@pytest.mark.parametrize("route", ["announced", "streamed"])
async def test_a_body_past_the_limit_fails_the_call(client, route: str) -> None:  # type: ignore[no-untyped-def]
    url = URL(f"{client.base}{route}?size={LIMIT + 100}")
    exchange = await client.send(OutgoingRequest("GET", url))
    assert exchange.status is None and exchange.body == b""
    assert "response larger than" in (exchange.error or "")
