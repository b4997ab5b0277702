"""The retry rules on the wire: what an unwritten `on:` retries, and how Retry-After waits."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from yarl import URL

from runner.http.client import ClientSettings, ConnectionClient, Exchange, OutgoingRequest
from runner.http.egress import EgressPolicy
from runner.http.retry import RetryPolicy
from tests.support.servers import Reply

IMPLIED = RetryPolicy(attempts=3, backoff=0.01)  # `retry: {attempts: 3, backoff: 10ms}`


async def send(request: OutgoingRequest, **settings: Any) -> Exchange:
    client = ConnectionClient(
        ClientSettings("api", policy=EgressPolicy(private_network=True), **settings)
    )
    try:
        return await client.send(request)
    finally:
        await client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_post_and_patch_answered_503_are_not_retried_without_a_written_on(sink, method):
    sink.recorder.script("/make", Reply(503), Reply(201))
    exchange = await send(OutgoingRequest(method, URL(f"{sink.url}/make"), data=b"{}"),
                          retry=IMPLIED)
    assert exchange.status == 503
    assert len(sink.recorder.requests) == 1


async def test_get_answered_503_is_retried_by_the_default_list(sink):
    sink.recorder.script("/get", Reply(503), Reply(200))
    exchange = await send(OutgoingRequest("GET", URL(f"{sink.url}/get")), retry=IMPLIED)
    assert exchange.status == 200
    assert len(sink.recorder.requests) == 2


async def test_a_post_that_timed_out_is_not_resent_without_a_written_on(sink):
    sink.recorder.script("/slow", Reply(delay=1.0), Reply(201))
    exchange = await send(OutgoingRequest("POST", URL(f"{sink.url}/slow"), data=b"{}",
                                          timeout=0.2), retry=IMPLIED)
    assert exchange.failure == "timeout"
    assert len(exchange.attempts) == 1


async def test_a_post_whose_connection_failed_is_retried_by_the_default_list():
    url = URL(f"http://127.0.0.1:{closed_port()}/make")
    exchange = await send(OutgoingRequest("POST", url, data=b"{}"), retry=IMPLIED)
    assert exchange.failure == "connection"
    assert len(exchange.attempts) == 3


async def test_a_retry_after_of_a_day_waits_one_hour(sink):
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    sink.recorder.script("/busy", Reply(429, headers={"Retry-After": "86400"}), Reply(200))
    exchange = await send(OutgoingRequest("GET", URL(f"{sink.url}/busy")), sleep=record,
                          retry=RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.5))
    assert exchange.status == 200
    assert waits == [3600.0]


async def test_retry_after_is_waited_in_full_beyond_max_backoff(sink):
    sink.recorder.script("/busy", Reply(503, headers={"Retry-After": "2"}), Reply(200))
    policy = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.5)
    started = time.monotonic()
    exchange = await send(OutgoingRequest("GET", URL(f"{sink.url}/busy")), retry=policy)
    elapsed = time.monotonic() - started
    assert exchange.status == 200
    assert 2.0 <= elapsed < 3.5
    assert exchange.attempts[1].waited_ms == 2000
