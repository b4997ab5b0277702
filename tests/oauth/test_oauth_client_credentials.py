"""Client credentials against the fault-injecting provider: caching, expiry, 401, concurrency, errors."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest

from runner.recipe.compile import Project
from runner.store.base import Store
from tests.oauth.oauth_support import (
    CLIENT_CREDENTIALS,
    CLIENT_ID,
    CLIENT_SECRET,
    Clock,
    Provider,
    connection_yaml,
    get,
    make_runtime,
    provider,
    secrets_env,
    store,
    write_project,
)

__all__ = ["provider", "store"]  # fixtures


def _project(tmp_path: Path, url: str, method: str = "client_secret_post",
             private: bool = True) -> Project:
    text = connection_yaml(url, CLIENT_CREDENTIALS.format(url=url, method=method))
    if not private:
        text = text.replace("private_network: true\n", "")
    return write_project(tmp_path, text)[0]


async def test_token_is_fetched_once_cached_and_sent_as_bearer(
    tmp_path: Path, provider: Provider, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = make_runtime(_project(tmp_path, provider.url), store, secrets_env())
    try:
        for _ in range(5):
            exchange = await get(runtime, f"{provider.url}/api/me")
            assert exchange.status == 200, exchange.error
    finally:
        await runtime.close()
    [call] = provider.calls
    assert call.form == {
        "grant_type": "client_credentials", "scope": "read write",
        "audience": "https://api.example.com", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    }
    assert call.authorization is None
    assert len(set(provider.api_auth)) == 1 and provider.api_auth[0].startswith("Bearer at1-")
    token = provider.api_auth[0].removeprefix("Bearer ")
    assert runtime.redactor.redact_text(f"x {token} y") == "x *** y"
    assert await store.get_token("svc") is None  # client-credentials tokens are not stored
    assert any(r.getMessage() == "obtained an OAuth2 token" for r in caplog.records)
    for record in caplog.records:  # messages and structured fields alike
        assert token not in str(vars(record)) and CLIENT_SECRET not in str(vars(record))


async def test_client_secret_basic_sends_credentials_in_the_header_only(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    runtime = make_runtime(_project(tmp_path, provider.url, "client_secret_basic"), store,
                           secrets_env())
    try:
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
    finally:
        await runtime.close()
    [call] = provider.calls
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert call.authorization == f"Basic {expected}"
    assert "client_secret" not in call.form and "client_id" not in call.form
    assert call.form["scope"] == "read write" and call.form["audience"] == "https://api.example.com"


async def test_token_is_renewed_before_it_expires(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    runtime = make_runtime(_project(tmp_path, provider.url), store, secrets_env(), clock)
    try:
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
        clock.now += 3600 - 61  # more than the 60 s skew left: the cached token is still used
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
        assert len(provider.calls) == 1
        clock.now += 2  # inside the skew: renewed before the request goes out
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
    finally:
        await runtime.close()
    assert len(provider.calls) == 2
    assert [a.split("-")[0] for a in provider.api_auth] == ["Bearer at1", "Bearer at1", "Bearer at2"]


async def test_a_401_gets_one_new_token_and_one_retry(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    runtime = make_runtime(_project(tmp_path, provider.url), store, secrets_env())
    try:
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
        provider.revoke_access()
        exchange = await get(runtime, f"{provider.url}/api/me")
        assert exchange.status == 200
        assert len(exchange.attempts) == 2
        provider.revoke_access()
        provider.next_error = (400, {"error": "invalid_scope"})
        failed = await get(runtime, f"{provider.url}/api/me")
    finally:
        await runtime.close()
    assert [a.split("-")[0] for a in provider.api_auth] == [
        "Bearer at1", "Bearer at1", "Bearer at2", "Bearer at2"]
    assert failed.status == 401 and "invalid_scope" in (failed.error or "")
    assert len(provider.calls) == 3  # no loop: one renewal per 401


async def test_fifty_concurrent_jobs_cause_exactly_one_token_request(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    provider.delay = 0.05  # every request arrives while the first token request is in flight
    runtime = make_runtime(_project(tmp_path, provider.url), store, secrets_env(), clock)
    try:
        first = await asyncio.gather(*(get(runtime, f"{provider.url}/api/me") for _ in range(50)))
        assert [e.status for e in first] == [200] * 50
        assert len(provider.calls) == 1
        clock.now += 3600  # expired for all of them at once
        again = await asyncio.gather(*(get(runtime, f"{provider.url}/api/me") for _ in range(50)))
        assert [e.status for e in again] == [200] * 50
        assert len(provider.calls) == 2
        provider.revoke_access()  # 50 jobs get a 401 with the same token: one renewal
        third = await asyncio.gather(*(get(runtime, f"{provider.url}/api/me") for _ in range(50)))
    finally:
        await runtime.close()
    assert [e.status for e in third] == [200] * 50
    assert len(provider.calls) == 3


async def test_a_refused_client_is_reported_without_the_secret(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    source = secrets_env({"CLIENT_SECRET": "wrong-secret-value"})
    runtime = make_runtime(_project(tmp_path, provider.url), store, source)
    try:
        exchange = await get(runtime, f"{provider.url}/api/me")
    finally:
        await runtime.close()
    assert exchange.status is None
    assert "token endpoint" in (exchange.error or "") and "invalid_client" in (exchange.error or "")
    assert "wrong-secret-value" not in (exchange.error or "")
    assert provider.api_auth == []  # the API never saw a request without a token


async def test_the_token_request_obeys_the_connections_egress_policy(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    runtime = make_runtime(_project(tmp_path, provider.url, private=False), store, secrets_env())
    try:
        exchange = await get(runtime, f"{provider.url}/api/me")
    finally:
        await runtime.close()
    assert provider.calls == []
    assert "token endpoint" in (exchange.error or "")
    assert "loopback" in (exchange.error or "") and "private_network" in (exchange.error or "")
