"""`runner connect --via-server`: the daemon's GET /oauth/callback completes a flow the command started."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from runner.commands import connect as connect_command
from runner.commands.common import CommandError, load_project
from runner.engine.runtime import Runtime
from runner.oauth.daemon_callback import make_callback_handler
from runner.store import open_store
from runner.store.base import Store
from tests.oauth.oauth_support import (
    ConnectSetup,
    Provider,
    make_runtime,
    provider,
    secrets_env,
)
from tests.support.servers import serve_app

__all__ = ["provider"]  # fixtures


@dataclass
class Daemon:
    """A stand-in for `runner serve`: /healthz and the OAuth2 callback over its own runtime."""

    url: str
    holder: dict[str, Runtime]


@pytest.fixture
async def daemon() -> AsyncIterator[Daemon]:
    holder: dict[str, Runtime] = {}
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/oauth/callback", make_callback_handler(lambda: holder.get("runtime")))
    async with serve_app(app) as url:
        yield Daemon(url, holder)
        if "runtime" in holder:
            await holder["runtime"].close()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _start(tmp_path: Path, provider: Provider, daemon: Daemon) -> tuple[ConnectSetup, Store]:
    """The documents, and the daemon's runtime over the same store file as the command's."""
    setup = ConnectSetup(tmp_path, provider.url, redirect=f"{daemon.url}/oauth/callback")
    project, _ = load_project([str(setup.path)])
    store = open_store(setup.store)
    await store.open()
    daemon.holder["runtime"] = make_runtime(project, store, secrets_env())
    return setup, store


async def _follow(setup: ConnectSetup, daemon: Daemon) -> tuple[int, int, str]:
    urls: asyncio.Queue[str] = asyncio.Queue()
    args = setup.args(via_server=daemon.url)
    task = asyncio.create_task(connect_command.connect(args, secrets_env(), urls.put_nowait))
    url = await asyncio.wait_for(urls.get(), 10)
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        status, text = page.status, await page.text()
    return await asyncio.wait_for(task, 10), status, text


async def test_the_daemon_callback_completes_a_flow_started_by_connect(
    tmp_path: Path, provider: Provider, daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    setup, store = await _start(tmp_path, provider, daemon)
    try:
        code, status, page = await _follow(setup, daemon)
        assert await store.get_token("svc#pending") is None  # the command cleaned up
    finally:
        await store.close()
    out = capsys.readouterr().out
    assert code == 0 and status == 200 and "connection svc is authorized" in page
    assert "through the daemon at" in out and "✓ connection svc is authorized" in out
    [query] = provider.authorize_queries
    assert query["redirect_uri"] == f"{daemon.url}/oauth/callback" and "code_challenge" in query
    assert provider.calls[0].form["code_verifier"]
    stored = await setup.stored()
    assert stored is not None and stored.refresh_token and stored.access_token not in out


async def test_a_refusal_at_the_daemon_is_reported_by_connect(
    tmp_path: Path, provider: Provider, daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.deny = "access_denied"
    setup, store = await _start(tmp_path, provider, daemon)
    try:
        code, status, page = await _follow(setup, daemon)
    finally:
        await store.close()
    assert code == 1 and status == 400 and "access_denied" in page
    assert "access_denied" in capsys.readouterr().err
    assert provider.calls == [] and await setup.stored() is None


async def test_a_callback_without_a_pending_flow_is_refused(
    tmp_path: Path, provider: Provider, daemon: Daemon
) -> None:
    setup, store = await _start(tmp_path, provider, daemon)
    try:
        async with aiohttp.ClientSession() as browser:
            for query in ({"code": "x", "state": "svc.guess"}, {"code": "x", "state": "other.x"}, {}):
                async with browser.get(f"{daemon.url}/oauth/callback", params=query) as page:
                    assert page.status == 400
                    text = await page.text()
                    assert "runner connect" in text
    finally:
        await store.close()
    assert provider.calls == [] and await setup.stored() is None


async def test_via_server_needs_a_reachable_daemon_and_its_callback_path(
    tmp_path: Path, provider: Provider, daemon: Daemon
) -> None:
    setup = ConnectSetup(tmp_path, provider.url, redirect=f"{daemon.url}/oauth/callback")
    with pytest.raises(CommandError) as caught:
        await connect_command.connect(setup.args(via_server="http://127.0.0.1:9"), secrets_env())
    assert caught.value.code == 2 and "the daemon at http://127.0.0.1:9/healthz" in str(caught.value)
    (tmp_path / "other").mkdir()
    other = ConnectSetup(tmp_path / "other", provider.url, redirect=f"{daemon.url}/elsewhere")
    with pytest.raises(CommandError) as caught:
        await connect_command.connect(other.args(via_server=daemon.url), secrets_env())
    assert caught.value.code == 1 and "redirect_uri must be the daemon's /oauth/callback" in str(
        caught.value)


async def test_a_forged_callback_does_not_cancel_the_waiting_authorization(
    tmp_path: Path, provider: Provider, daemon: Daemon
) -> None:
    setup, store = await _start(tmp_path, provider, daemon)
    urls: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        connect_command.connect(setup.args(via_server=daemon.url), secrets_env(), urls.put_nowait)
    )
    try:
        url = await asyncio.wait_for(urls.get(), 10)
        async with aiohttp.ClientSession() as browser:
            forged = {"code": "attacker", "state": "svc.forged"}
            async with browser.get(f"{daemon.url}/oauth/callback", params=forged) as page:
                assert page.status == 400
                assert "does not match" in await page.text()
            async with browser.get(url) as page:  # the real redirect still completes the flow
                assert page.status == 200 and "connection svc is authorized" in await page.text()
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        task.cancel()
        await store.close()
    assert "attacker" not in [call.form.get("code") for call in provider.calls]
    assert await setup.stored() is not None


async def test_a_daemon_on_another_store_cannot_finish_and_connect_says_what_to_check(
    tmp_path: Path, provider: Provider, daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = ConnectSetup(tmp_path, provider.url, redirect=f"{daemon.url}/oauth/callback")
    project, _ = load_project([str(setup.path)])
    other = open_store(f"sqlite:///{tmp_path / 'another.db'}")  # not the command's store
    await other.open()
    daemon.holder["runtime"] = make_runtime(project, other, secrets_env())
    urls: asyncio.Queue[str] = asyncio.Queue()
    args = setup.args(via_server=daemon.url, timeout="1s")
    task = asyncio.create_task(connect_command.connect(args, secrets_env(), urls.put_nowait))
    try:
        url = await asyncio.wait_for(urls.get(), 10)
        async with aiohttp.ClientSession() as browser, browser.get(url) as page:
            assert page.status == 400  # the daemon's page says it has no such authorization
            assert "no authorization of connection svc is waiting" in await page.text()
        assert await asyncio.wait_for(task, 10) == 1
    finally:
        await other.close()
    err = capsys.readouterr().err
    assert "no callback completed the authorization within 1s" in err
    assert "a daemon on another store, or with another RUNNER_SECRET_KEY" in err
    assert await setup.stored() is None
