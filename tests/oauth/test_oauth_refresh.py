"""Stored authorization-code tokens: expiry, 401, rotation, revocation, concurrency, other processes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runner.engine.job import new_job, run_job
from runner.engine.runtime import Runtime
from runner.oauth.tokens import TokenSet, TokenVault
from runner.recipe.compile import Project
from runner.secrets import SecretSource
from runner.store.base import Store
from tests.oauth.oauth_support import (
    AUTHORIZATION_CODE,
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

RECIPE = """
---
kind: recipe
name: call-api
trigger: {webhook: {path: call-api}}
steps:
  - id: me
    request: {connection: svc, method: GET, url: /api/me}
"""


def _project(tmp_path: Path, url: str, extra: str = "") -> Project:
    auth = AUTHORIZATION_CODE.format(url=url, redirect="http://127.0.0.1:8765/oauth/callback",
                                     pkce="true")
    return write_project(tmp_path, connection_yaml(url, auth) + extra)[0]


async def _seed(provider: Provider, store: Store, clock: Clock) -> TokenSet:
    tokens = TokenSet.from_response(provider.issue(refresh=True), clock(), ["read"])
    await TokenVault(store, secrets_env()).save("svc", tokens)
    return tokens


async def _stored(store: Store, source: SecretSource | None = None) -> TokenSet | None:
    return await TokenVault(store, source or secrets_env()).load("svc")


def _runtime(tmp_path: Path, provider: Provider, store: Store, clock: Clock) -> Runtime:
    return make_runtime(_project(tmp_path, provider.url), store, secrets_env(), clock)


async def test_stored_token_is_used_then_refreshed_before_expiry_and_rotation_saved(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    seeded = await _seed(provider, store, clock)
    runtime = _runtime(tmp_path, provider, store, clock)
    try:
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
        assert provider.calls == []  # the stored token was fresh
        clock.now += 3600 - 30
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
    finally:
        await runtime.close()
    [call] = provider.calls
    assert call.form["grant_type"] == "refresh_token"
    assert call.form["refresh_token"] == seeded.refresh_token
    stored = await _stored(store)
    assert stored is not None and stored.refresh_token != seeded.refresh_token
    assert stored.refresh_token in provider.live_refresh  # the rotated token is the one kept
    assert provider.api_auth[-1] == f"Bearer {stored.access_token}"
    # The next process starts from the rotated token.
    clock.now += 3600
    again = _runtime(tmp_path, provider, store, clock)
    try:
        assert (await get(again, f"{provider.url}/api/me")).status == 200
    finally:
        await again.close()
    assert provider.calls[-1].form["refresh_token"] == stored.refresh_token


async def test_a_refresh_without_rotation_keeps_the_refresh_token(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock, provider.rotate = Clock(), False
    seeded = await _seed(provider, store, clock)
    clock.now += 4000
    runtime = _runtime(tmp_path, provider, store, clock)
    try:
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
    finally:
        await runtime.close()
    stored = await _stored(store)
    assert stored is not None and stored.refresh_token == seeded.refresh_token
    assert stored.access_token != seeded.access_token


async def test_a_401_refreshes_once_and_retries(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    await _seed(provider, store, clock)
    provider.revoke_access()
    runtime = _runtime(tmp_path, provider, store, clock)
    try:
        exchange = await get(runtime, f"{provider.url}/api/me")
    finally:
        await runtime.close()
    assert exchange.status == 200 and len(exchange.attempts) == 2
    assert [c.grant for c in provider.calls] == ["refresh_token"]


async def test_a_revoked_refresh_token_needs_authorization_and_is_not_retried(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    seeded = await _seed(provider, store, clock)
    provider.revoke_refresh()
    clock.now += 4000
    project = _project(tmp_path, provider.url, RECIPE)
    runtime = make_runtime(project, store, secrets_env(), clock)
    try:
        jobs = [await run_job(runtime, project.recipes["call-api"], new_job("call-api", {}))
                for _ in range(3)]
    finally:
        await runtime.close()
    assert len(provider.calls) == 1 and provider.api_auth == []
    for job in jobs:
        assert job.status == "failed"
        assert "connection svc needs authorization: run `runner connect svc`" in (job.error or "")
        history = json.dumps(job.to_json())
        assert seeded.access_token not in history and seeded.refresh_token not in history
    stored = await _stored(store)
    assert stored is not None and "invalid_grant" in (stored.needs_authorization or "")
    # A restarted process does not try the dead refresh token again either.
    again = _runtime(tmp_path, provider, store, clock)
    try:
        exchange = await get(again, f"{provider.url}/api/me")
    finally:
        await again.close()
    assert "needs authorization" in (exchange.error or "") and len(provider.calls) == 1


async def test_fifty_jobs_finding_the_token_expired_cause_one_refresh(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    await _seed(provider, store, clock)
    provider.delay = 0.05
    runtime = _runtime(tmp_path, provider, store, clock)
    try:
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
        clock.now += 3600
        results = await asyncio.gather(*(get(runtime, f"{provider.url}/api/me") for _ in range(50)))
    finally:
        await runtime.close()
    assert [e.status for e in results] == [200] * 50
    assert [c.grant for c in provider.calls] == ["refresh_token"]


async def test_a_token_renewed_by_another_process_is_picked_up_from_the_store(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    await _seed(provider, store, clock)
    first = _runtime(tmp_path, provider, store, clock)
    second = _runtime(tmp_path, provider, store, clock)
    try:
        assert (await get(first, f"{provider.url}/api/me")).status == 200
        clock.now += 3600
        assert (await get(second, f"{provider.url}/api/me")).status == 200  # refreshes, rotates
        assert (await get(first, f"{provider.url}/api/me")).status == 200  # reads it, no refresh
    finally:
        await first.close()
        await second.close()
    assert [c.grant for c in provider.calls] == ["refresh_token"]


async def test_a_provider_outage_fails_the_job_but_keeps_the_authorization(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    await _seed(provider, store, clock)
    clock.now += 4000
    provider.next_error = (500, {"error": "server_error"})
    runtime = _runtime(tmp_path, provider, store, clock)
    try:
        failed = await get(runtime, f"{provider.url}/api/me")
        assert "server_error" in (failed.error or "") and failed.status is None
        assert (await get(runtime, f"{provider.url}/api/me")).status == 200
    finally:
        await runtime.close()
    stored = await _stored(store)
    assert stored is not None and stored.needs_authorization is None


async def test_without_a_stored_token_the_job_says_to_run_connect(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    runtime = _runtime(tmp_path, provider, store, Clock())
    try:
        exchange = await get(runtime, f"{provider.url}/api/me")
    finally:
        await runtime.close()
    assert "connection svc is not authorized yet: run `runner connect svc`" in (exchange.error or "")
    assert provider.calls == []


async def test_missing_or_wrong_secret_key_is_a_clear_error(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    await _seed(provider, store, Clock())
    project = _project(tmp_path, provider.url)
    for source, expected in (
        (secrets_env(key=None), "RUNNER_SECRET_KEY is not set"),
        (secrets_env(key="another-key-" * 4), "cannot be decrypted with this RUNNER_SECRET_KEY"),
        (secrets_env(key="short"), "RUNNER_SECRET_KEY is too short"),
    ):
        runtime = make_runtime(project, store, source)
        try:
            exchange = await get(runtime, f"{provider.url}/api/me")
        finally:
            await runtime.close()
        assert expected in (exchange.error or ""), exchange.error
    assert provider.calls == []


async def test_a_job_sends_the_token_but_its_history_never_shows_it(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    seeded = await _seed(provider, store, clock)
    project = _project(tmp_path, provider.url, RECIPE)
    runtime = make_runtime(project, store, secrets_env(), clock)
    try:
        job = await run_job(runtime, project.recipes["call-api"], new_job("call-api", {}))
    finally:
        await runtime.close()
    assert job.status == "succeeded", job.error
    assert provider.api_auth == [f"Bearer {seeded.access_token}"]
    history = json.dumps(job.to_json())
    assert seeded.access_token not in history and "Authorization" in history


async def test_two_processes_on_one_store_refresh_once_between_them(
    tmp_path: Path, provider: Provider, store: Store
) -> None:
    clock = Clock()
    await _seed(provider, store, clock)
    provider.delay = 0.05
    first = _runtime(tmp_path, provider, store, clock)
    second = _runtime(tmp_path, provider, store, clock)
    clock.now += 3600
    try:
        results = await asyncio.gather(*(
            get(runtime, f"{provider.url}/api/me") for runtime in (first, second) * 25
        ))
    finally:
        await first.close()
        await second.close()
    assert [e.status for e in results] == [200] * 50
    assert [c.grant for c in provider.calls] == ["refresh_token"]
