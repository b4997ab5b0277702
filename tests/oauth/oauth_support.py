"""A fault-injecting OAuth2 provider (authorize, token, a protected API) and helpers for the tests."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from runner.commands import connect as connect_command
from runner.commands.common import load_project
from runner.engine.runtime import Runtime, build_runtime
from runner.http.client import Exchange, OutgoingRequest
from runner.oauth.factory import make_auth_factory
from runner.oauth.tokens import TokenSet, TokenVault
from runner.recipe.compile import Project
from runner.secrets import SecretSource
from runner.store import open_store
from runner.store.base import Store
from tests.support.servers import serve_app

SECRET_KEY = "k" * 40
CLIENT_ID, CLIENT_SECRET = "client-abc", "client-secret-9f8e7d6c"


@dataclass
class TokenCall:
    """One request the token endpoint received."""

    form: dict[str, str]
    authorization: str | None

    @property
    def grant(self) -> str:
        return self.form.get("grant_type", "")


@dataclass
class Provider:
    """The provider's behaviour (tests change it) and what it saw."""

    url: str = ""
    expires_in: int | None = 3600
    rotate: bool = True
    delay: float = 0.0
    deny: str | None = None  # /authorize redirects with this error
    forge_state: bool = False
    next_error: tuple[int, dict[str, Any]] | None = None  # the next token request's answer
    calls: list[TokenCall] = field(default_factory=list)
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    api_auth: list[str] = field(default_factory=list)
    live_access: set[str] = field(default_factory=set)
    live_refresh: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def grants(self, kind: str) -> list[TokenCall]:
        return [c for c in self.calls if c.grant == kind]

    def issue(self, refresh: bool) -> dict[str, Any]:
        n = next(self.counter)
        body: dict[str, Any] = {"access_token": f"at{n}-{secrets.token_hex(8)}",
                                "token_type": "bearer", "scope": "read write"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        self.live_access.add(body["access_token"])
        if refresh:
            body["refresh_token"] = f"rt{n}-{secrets.token_hex(8)}"
            self.live_refresh.add(body["refresh_token"])
        return body

    def revoke_access(self) -> None:
        self.live_access.clear()

    def revoke_refresh(self) -> None:
        self.live_refresh.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/api/me", self._api)
        return app

    async def _authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_queries.append(query)
        target = URL(query["redirect_uri"])
        state = "forged-state" if self.forge_state else query.get("state", "")
        if self.deny:
            params = {"error": self.deny, "error_description": "The user said no", "state": state}
        else:
            code = secrets.token_urlsafe(12)
            self.codes[code] = query
            params = {"code": code, "state": state}
        raise web.HTTPFound(str(target) + ("&" if target.query_string else "?") + urlencode(params))

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.calls.append(TokenCall({k: str(v) for k, v in form.items()},
                                    request.headers.get("Authorization")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.next_error is not None:
            (status, body), self.next_error = self.next_error, None
            return web.json_response(body, status=status)
        if not self._client_ok(request, form):
            return web.json_response({"error": "invalid_client"}, status=401)
        return self._grant(form)

    def _client_ok(self, request: web.Request, form: Any) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode() == f"{CLIENT_ID}:{CLIENT_SECRET}"
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") in (CLIENT_SECRET, None)

    def _grant(self, form: Any) -> web.Response:
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return web.json_response(self.issue(refresh=False))
        if grant == "refresh_token":
            token = form.get("refresh_token")
            if token not in self.live_refresh:
                return web.json_response({"error": "invalid_grant",
                                          "error_description": "refresh token revoked"}, status=400)
            body = self.issue(refresh=self.rotate)
            if self.rotate:
                self.live_refresh.discard(token)
            return web.json_response(body)
        if grant == "authorization_code":
            return self._exchange(form)
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    def _exchange(self, form: Any) -> web.Response:
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or asked["redirect_uri"] != form.get("redirect_uri"):
            return web.json_response({"error": "invalid_grant"}, status=400)
        challenge = asked.get("code_challenge")
        if challenge is not None:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                return web.json_response({"error": "invalid_grant",
                                          "error_description": "PKCE verification failed"}, status=400)
        return web.json_response(self.issue(refresh=True))

    async def _api(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        self.api_auth.append(header)
        if header.removeprefix("Bearer ") not in self.live_access:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response({"ok": True})


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider()
    async with serve_app(state.app()) as url:
        state.url = url
        yield state


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    await opened.open()
    yield opened
    await opened.close()


class Clock:
    """A settable wall clock for expiry tests."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def secrets_env(extra: dict[str, str] | None = None, key: str | None = SECRET_KEY) -> SecretSource:
    env = {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET, **(extra or {})}
    if key is not None:
        env["RUNNER_SECRET_KEY"] = key
    return SecretSource(environ=env, secrets_dir="/nonexistent")


def connection_yaml(url: str, auth: str, name: str = "svc") -> str:
    """A connection to the fake provider; `auth` is the indented body of its auth block."""
    return (
        f"kind: connection\nname: {name}\nbase_url: {url}\nprivate_network: true\n"
        f"auth:\n{auth}\n"
    )


CLIENT_CREDENTIALS = """\
  type: oauth2_client_credentials
  token_url: {url}/token
  client_id: "{{{{ secrets.CLIENT_ID }}}}"
  client_secret: "{{{{ secrets.CLIENT_SECRET }}}}"
  scopes: [read, write]
  audience: https://api.example.com
  token_auth: {method}"""

AUTHORIZATION_CODE = """\
  type: oauth2_authorization_code
  authorization_url: {url}/authorize
  token_url: {url}/token
  client_id: "{{{{ secrets.CLIENT_ID }}}}"
  client_secret: "{{{{ secrets.CLIENT_SECRET }}}}"
  scopes: read write
  redirect_uri: {redirect}
  pkce: {pkce}
  auth_params: {{access_type: offline, prompt: consent}}"""


def write_project(tmp_path: Path, text: str) -> tuple[Project, Path]:
    path = tmp_path / "connections.yaml"
    path.write_text(text, encoding="utf-8")
    project, _ = load_project([str(path)])
    return project, path


def make_runtime(project: Project, store: Store, source: SecretSource,
                 clock: Callable[[], float] | None = None) -> Runtime:
    return build_runtime(project, source, auth_factory=make_auth_factory(store, source, clock=clock))


async def get(runtime: Runtime, url: str, name: str = "svc") -> Exchange:
    _, client = runtime.connection(name)
    return await client.send(OutgoingRequest("GET", URL(url)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


AUTH_CODE_AT = """\
  type: oauth2_authorization_code
  authorization_url: {authorize}
  token_url: {token}
  client_id: "{{{{ secrets.CLIENT_ID }}}}"
  client_secret: "{{{{ secrets.CLIENT_SECRET }}}}"
  scopes: read write
  redirect_uri: {redirect}
  pkce: {pkce}
  auth_params: {{access_type: offline, prompt: consent}}"""


class ConnectSetup:
    """Connection `svc` (authorization code) whose redirect_uri is a free local port; a store."""

    def __init__(self, tmp_path: Path, provider_url: str, pkce: bool = True,
                 api_url: str | None = None, redirect: str | None = None) -> None:
        self.redirect = redirect or f"http://127.0.0.1:{free_port()}/oauth/callback"
        auth = AUTH_CODE_AT.format(
            authorize=f"{provider_url}/authorize", token=f"{provider_url}/token",
            redirect=self.redirect, pkce="true" if pkce else "false",
        )
        self.path = tmp_path / "connections.yaml"
        self.path.write_text(connection_yaml(api_url or provider_url, auth), encoding="utf-8")
        self.db = tmp_path / "runner.db"
        self.store = f"sqlite:///{self.db}"

    def args(self, **overrides: Any) -> argparse.Namespace:
        values = {"name": "svc", "paths": [str(self.path)], "store": self.store, "timeout": "10s",
                  "no_browser": True, "via_server": None, **overrides}
        return argparse.Namespace(**values)

    async def stored(self) -> TokenSet | None:
        store = open_store(self.store)
        async with store:
            return await TokenVault(store, secrets_env()).load("svc")


async def run_connect(setup: ConnectSetup, **overrides: Any) -> tuple[int, int | None, str]:
    """Runs `runner connect` and follows its URL like a browser: (exit code, page status, page)."""
    urls: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        connect_command.connect(setup.args(**overrides), secrets_env(), urls.put_nowait)
    )
    url = await asyncio.wait_for(urls.get(), 10)
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        status, text = page.status, await page.text()
    return await asyncio.wait_for(task, 10), status, text
