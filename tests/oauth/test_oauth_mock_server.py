"""Both grants against a real third-party authorization server: oauth2-mock-server from npm.

.ci/run installs it (`npm install --prefix .ci/node oauth2-mock-server@<pinned>`) and sets
RUNNER_TEST_OAUTH2_MOCK to its executable. Tokens it issues are RS256 JWTs; the resource server
here accepts only those that verify against the mock's JWKS and name it as issuer.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from runner.store import open_store
from tests.oauth.oauth_support import (
    CLIENT_CREDENTIALS,
    Clock,
    ConnectSetup,
    connection_yaml,
    get,
    make_runtime,
    run_connect,
    secrets_env,
    write_project,
)
from tests.support.servers import serve_app

MOCK = os.environ.get("RUNNER_TEST_OAUTH2_MOCK")
pytestmark = pytest.mark.skipif(
    not MOCK, reason="RUNNER_TEST_OAUTH2_MOCK is not set: .ci/run installs oauth2-mock-server "
                     "from npm and points it at the server's executable",
)
START_TIMEOUT = 20.0


@dataclass
class MockServer:
    url: str
    issuer: str


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockServer]:
    assert MOCK is not None
    proc = subprocess.Popen([MOCK, "-a", "127.0.0.1", "-p", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()],
                     daemon=True).start()  # drains its output for as long as it runs
    try:
        yield _started(proc, lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _started(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> MockServer:
    deadline, seen, url, issuer = time.monotonic() + START_TIMEOUT, [], None, None
    while url is None or issuer is None:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"oauth2-mock-server did not start (exit {proc.poll()}): {''.join(seen)}")
        seen.append(line)
        if found := re.search(r"listening on (http://\S+)", line):
            url = found.group(1)
        if found := re.search(r"issuer is (http://\S+)", line):
            issuer = found.group(1)
    return MockServer(url, issuer)


@dataclass
class ResourceServer:
    """An API that accepts a Bearer token only if it is a valid JWT from the mock server."""

    issuer: str
    keys: KeySet
    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.tokens.append(token)
        try:
            claims = jwt.decode(token, self.keys, algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return web.json_response({"error": "invalid_token"}, status=401)
        if claims.get("iss") != self.issuer or float(claims.get("exp", 0)) < time.time():
            return web.json_response({"error": "invalid_token"}, status=401)
        self.seen.append(claims)
        return web.json_response({"sub": claims.get("sub"), "scope": claims.get("scope")})


@pytest.fixture
async def resource(mock_server: MockServer) -> AsyncIterator[ResourceServer]:
    async with aiohttp.ClientSession() as session, session.get(f"{mock_server.url}/jwks") as r:
        keys = KeySet.import_key_set(await r.json())
    server = ResourceServer(mock_server.issuer, keys)
    app = web.Application()
    app.router.add_get("/me", server.handle)
    async with serve_app(app) as url:
        server.url = url
        yield server


async def test_client_credentials_token_from_the_mock_is_cached_and_accepted(
    tmp_path: Path, mock_server: MockServer, resource: ResourceServer
) -> None:
    auth = CLIENT_CREDENTIALS.format(url=mock_server.url, method="client_secret_basic")
    project, _ = write_project(tmp_path, connection_yaml(resource.url, auth))
    store = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    async with store:
        runtime = make_runtime(project, store, secrets_env())
        try:
            statuses = [(await get(runtime, f"{resource.url}/me")).status for _ in range(3)]
        finally:
            await runtime.close()
    assert statuses == [200, 200, 200]
    assert len(set(resource.tokens)) == 1  # one token, reused
    assert resource.seen[0]["scope"] == "read write"


async def test_authorization_code_flow_end_to_end_then_refresh(
    tmp_path: Path, mock_server: MockServer, resource: ResourceServer
) -> None:
    setup = ConnectSetup(tmp_path, mock_server.url, api_url=resource.url)
    code, status, _ = await run_connect(setup)  # the mock's /authorize redirects at once
    assert code == 0 and status == 200
    stored = await setup.stored()
    assert stored is not None and stored.refresh_token
    project, _ = write_project(tmp_path, setup.path.read_text())
    clock = Clock(time.time())
    store = open_store(setup.store)
    async with store:
        runtime = make_runtime(project, store, secrets_env(), clock)
        try:
            assert (await get(runtime, f"{resource.url}/me")).status == 200
            clock.now += 3600  # the mock's tokens live an hour: renewed with its refresh grant
            assert (await get(runtime, f"{resource.url}/me")).status == 200
        finally:
            await runtime.close()
    assert resource.tokens[0] == stored.access_token
    assert [claims["sub"] for claims in resource.seen] == ["johndoe", "johndoe"]
    renewed = await setup.stored()  # the mock rotates refresh tokens: the new one was saved
    assert renewed is not None and renewed.refresh_token != stored.refresh_token
    assert renewed.obtained_at == clock.now
