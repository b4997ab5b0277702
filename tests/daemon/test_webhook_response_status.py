"""A `respond: sync` webhook whose response status is a template, through a real `runner serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.daemon.conftest import Hub
from tests.support.servers import Reply


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


@pytest.mark.parametrize("status", [201, "202", 418])
async def test_status_template_decides_the_answer(
    hub: Hub, client: aiohttp.ClientSession, status: int | str
) -> None:
    hub.sink.script("/status-hook", Reply(json={"got": "yes"}))
    async with client.post(hub.hook("status-hook"), json={"status": status}) as response:
        assert response.status == int(status)
        assert await response.json() == {"got": "yes"}


@pytest.mark.parametrize("status", ["abc", 99, True, None])
async def test_status_that_renders_to_no_status_is_a_500_naming_it(
    hub: Hub, client: aiohttp.ClientSession, status: object
) -> None:
    hub.sink.script("/status-hook", Reply(json={"got": "yes"}))
    async with client.post(hub.hook("status-hook"), json={"status": status}) as response:
        assert response.status == 500
        error = (await response.json())["error"]
    assert error["code"] == "bad-response"
    assert "not an HTTP status code (100-599)" in error["message"]
    assert error["job_id"]


async def test_the_response_reads_the_whole_body_the_history_keeps_cut(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    items = [{"n": n, "pad": "x" * 20} for n in range(5000)]  # about 150 KB: over the 64 KiB cut
    hub.sink.script("/big-sync", Reply(json={"items": items}))
    async with client.post(hub.hook("big-sync"), json={}) as response:
        assert response.status == 200
        assert await response.json() == {"count": 5000, "last": items[-1]}
    [job] = hub.daemon.jobs("--recipe", "big-sync")
    stored = hub.daemon.job(job["id"])["steps"][0]["output"]
    assert stored["body_truncated"] and len(stored["body"]) == 65536


@pytest.mark.parametrize(("answer", "content_type", "raw"), [
    ({"a": 1}, "application/vnd.api+json", b'{"a":1}'),  # its own type for a JSON body
    (True, "text/plain", b"true"),  # as templates write booleans, not Python's True
    ([1, None], "application/json; charset=utf-8", b"[1,null]"),
])
async def test_the_response_headers_and_body_are_sent_as_rendered(
    hub: Hub, client: aiohttp.ClientSession, answer: object, content_type: str, raw: bytes
) -> None:
    event = {"type": content_type, "echo": "e-1", "answer": answer}
    async with client.post(hub.hook("sync-answers"), json=event) as response:
        assert response.status == 200
        assert (response.headers["Content-Type"], response.headers["X-Echo"]) == (content_type, "e-1")
        assert await response.read() == raw


async def test_a_response_header_with_a_line_break_is_a_500_naming_it(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    event = {"type": "text/plain", "echo": "a\r\nSet-Cookie: evil=1", "answer": "x"}
    async with client.post(hub.hook("sync-answers"), json=event) as response:
        assert response.status == 500
        assert "Set-Cookie" not in response.headers
        error = (await response.json())["error"]
    assert (error["code"], error["message"]) == (
        "bad-response", "response: header X-Echo renders to a value with a line break")
