"""`runner request` through OAuth2 connections: the token from the provider or from the store,
sent and never printed."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from runner.oauth.tokens import TokenSet, TokenVault
from runner.store import open_store
from tests.oauth.oauth_support import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    CLIENT_ID,
    CLIENT_SECRET,
    SECRET_KEY,
    Provider,
    connection_yaml,
    provider,
    secrets_env,
)

__all__ = ["provider"]


async def request(cwd: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "RUNNER_SECRET_KEY": SECRET_KEY, "RUNNER_SECRETS_DIR": str(cwd / "no-secrets")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runner", "request", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_client_credentials_token_is_fetched_sent_and_hidden(tmp_path: Path, provider: Provider):
    auth = CLIENT_CREDENTIALS.format(url=provider.url, method="client_secret_basic")
    (tmp_path / "svc.yaml").write_text(connection_yaml(provider.url, auth))
    code, out, err = await request(tmp_path, "svc", "GET", "/api/me", "svc.yaml")
    assert code == 0, out + err
    token = provider.api_auth[-1].removeprefix("Bearer ")
    assert token and token not in out + err and CLIENT_SECRET not in out + err
    assert "Authorization: ***" in out and "← 200" in out


async def test_authorization_code_tokens_are_read_from_the_store(tmp_path: Path, provider: Provider):
    auth = AUTHORIZATION_CODE.format(url=provider.url, redirect="http://127.0.0.1:8765/oauth/callback",
                                     pkce="true")
    (tmp_path / "svc.yaml").write_text(connection_yaml(provider.url, auth))
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    store = open_store(url)
    await store.open()
    try:
        tokens = TokenSet.from_response(provider.issue(refresh=True), time.time(), ["read"])
        await TokenVault(store, secrets_env()).save("svc", tokens)
    finally:
        await store.close()
    code, out, err = await request(tmp_path, "svc", "GET", "/api/me", "svc.yaml", "--store", url)
    assert code == 0, out + err
    assert provider.api_auth[-1] == f"Bearer {tokens.access_token}"
    assert tokens.access_token not in out + err and provider.calls == []
    # Without the store's tokens the connection is not authorized: said, nothing sent.
    sent = len(provider.api_auth)
    code, out, err = await request(tmp_path, "svc", "GET", "/api/me", "svc.yaml",
                                   "--store", f"sqlite:///{tmp_path / 'empty.db'}")
    assert code != 0 and "runner connect svc" in out + err
    assert len(provider.api_auth) == sent
