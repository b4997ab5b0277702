"""Token records: parsing, encryption at rest, key problems, `runner connections`, the wiring helpers."""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from runner.commands import connections as connections_command
from runner.engine.runtime import build_runtime
from runner.errors import AuthError, SecretError
from runner.oauth.tokens import TokenCipher, TokenSet, TokenVault
from runner.oauth.wiring import open_auth_factory, require_secret_key
from runner.store import open_store
from tests.oauth.oauth_support import SECRET_KEY, secrets_env, write_project

ACCESS, REFRESH = "access-7f3a9c1e5b2d4f60", "refresh-0c9b8a7d6e5f4a3b"

CONNECTIONS = """\
kind: connection
name: jira
base_url: https://jira.example.com
auth: {type: basic, username: u, password: p}
---
kind: connection
name: machine
base_url: https://api.example.com
auth: {type: oauth2_client_credentials, token_url: https://auth.example.com/token,
       client_id: id, client_secret: s, scopes: [api.read]}
---
kind: connection
name: eventbrite
base_url: https://www.eventbriteapi.com/v3
auth: {type: oauth2_authorization_code, authorization_url: https://www.eventbrite.com/oauth/authorize,
       token_url: https://www.eventbrite.com/oauth/token, client_id: id, client_secret: s}
"""


def test_token_response_parsing() -> None:
    tokens = TokenSet.from_response(
        {"access_token": ACCESS, "token_type": "bearer", "expires_in": "120", "scope": ["a", "b"]},
        1000.0, ["x"], previous_refresh=REFRESH,
    )
    assert tokens.expires_at == 1120.0 and tokens.scopes == ("a", "b")
    assert tokens.refresh_token == REFRESH  # not sent again: the old one stays valid
    assert ACCESS not in repr(tokens) and REFRESH not in repr(tokens)
    plain = TokenSet.from_response({"access_token": ACCESS}, 0.0, ["x", "y"])
    assert plain.expires_at is None and plain.scopes == ("x", "y") and plain.fresh(1e12, 60)
    with pytest.raises(AuthError, match="only Bearer"):
        TokenSet.from_response({"access_token": ACCESS, "token_type": "mac"}, 0.0, [])
    with pytest.raises(AuthError, match="no access_token"):
        TokenSet.from_response({"error": "x"}, 0.0, [])


def test_skew_never_exceeds_half_a_short_lifetime() -> None:
    tokens = TokenSet.from_response({"access_token": ACCESS, "expires_in": 30}, 0.0, [])
    assert tokens.fresh(14.0, 60) and not tokens.fresh(15.0, 60)
    hourly = TokenSet.from_response({"access_token": ACCESS, "expires_in": 3600}, 0.0, [])
    assert hourly.fresh(3539.0, 60) and not hourly.fresh(3540.0, 60)


def test_blobs_are_bound_to_their_key_and_connection() -> None:
    cipher = TokenCipher(SECRET_KEY.encode())
    blob = cipher.seal("svc", b"payload")
    assert cipher.open("svc", blob) == b"payload"
    with pytest.raises(AuthError, match="cannot be decrypted"):
        cipher.open("other", blob)  # a row copied to another connection
    with pytest.raises(AuthError, match="cannot be decrypted with this RUNNER_SECRET_KEY"):
        TokenCipher(b"z" * 40).open("svc", blob)
    with pytest.raises(AuthError, match="cannot be decrypted"):
        cipher.open("svc", blob[:-1] + bytes([blob[-1] ^ 1]))


async def test_tokens_are_encrypted_in_the_sqlite_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    async with store:
        tokens = TokenSet(ACCESS, refresh_token=REFRESH, scopes=("event:write",), obtained_at=1.0)
        await TokenVault(store, secrets_env()).save("eventbrite", tokens)
        assert await TokenVault(store, secrets_env()).load("eventbrite") == tokens
    with sqlite3.connect(tmp_path / "runner.db") as db:
        [(blob,)] = db.execute("SELECT blob FROM tokens WHERE connection = 'eventbrite'").fetchall()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("runner.db"))
    for secret in (ACCESS, REFRESH, "access_token", "event:write"):
        assert secret.encode() not in blob and secret.encode() not in raw


async def test_without_a_key_nothing_is_stored(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    async with store:
        with pytest.raises(SecretError, match="RUNNER_SECRET_KEY is not set"):
            await TokenVault(store, secrets_env(key=None)).save("svc", TokenSet(ACCESS))
        assert await store.get_token("svc") is None


async def _seed(tmp_path: Path, tokens: TokenSet) -> str:
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    store = open_store(url)
    async with store:
        await TokenVault(store, secrets_env()).save("eventbrite", tokens)
    return url


def _list(tmp_path: Path, url: str, fmt: str, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str], key: str | None = SECRET_KEY) -> str:
    path = tmp_path / "connections.yaml"
    path.write_text(CONNECTIONS)
    monkeypatch.setenv("RUNNER_SECRETS_DIR", str(tmp_path / "none"))
    if key is None:
        monkeypatch.delenv("RUNNER_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("RUNNER_SECRET_KEY", key)
    args = argparse.Namespace(paths=[str(path)], store=url, format=fmt)
    assert connections_command.run(args) == 0
    return capsys.readouterr().out


def test_connections_lists_state_scopes_and_expiry_never_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    out = _list(tmp_path, url, "text", monkeypatch, capsys)
    assert out.splitlines()[0].split() == ["NAME", "AUTH", "STATUS", "DETAILS"]
    assert "eventbrite  oauth2_authorization_code  not-authorized" in out
    assert "run `runner connect eventbrite`" in out and "on-demand" in out and "api.read" in out
    asyncio.run(_seed(tmp_path, TokenSet(ACCESS, refresh_token=REFRESH, expires_at=4102444800.0,
                                         scopes=("event:write",), obtained_at=1.0)))
    rows = json.loads(_list(tmp_path, url, "json", monkeypatch, capsys))
    [row] = [r for r in rows if r["name"] == "eventbrite"]
    assert row["status"] == "authorized" and row["scopes"] == ["event:write"]
    assert row["expires_at"] == "2100-01-01T00:00:00Z" and row["refresh_token"] is True
    text = _list(tmp_path, url, "text", monkeypatch, capsys)
    assert "authorized" in text and "expires 2100-01-01T00:00:00Z" in text
    asyncio.run(_seed(tmp_path, TokenSet(ACCESS, refresh_token=REFRESH).marked(
        "the provider refused the refresh token: invalid_grant")))
    text = _list(tmp_path, url, "text", monkeypatch, capsys)
    assert "needs-authorization" in text and "invalid_grant" in text
    no_key = _list(tmp_path, url, "text", monkeypatch, capsys, key=None)
    assert "a token is stored but cannot be read: RUNNER_SECRET_KEY is not set" in no_key
    for output in (out, text, no_key, json.dumps(rows)):
        assert ACCESS not in output and REFRESH not in output


async def test_wiring_opens_the_store_only_when_a_token_is_needed(tmp_path: Path) -> None:
    project, _ = write_project(tmp_path, CONNECTIONS)
    with pytest.raises(SecretError, match="connection eventbrite: RUNNER_SECRET_KEY is not set"):
        require_secret_key(project, secrets_env(key=None))
    require_secret_key(project, secrets_env())
    url = f"sqlite:///{tmp_path / 'lazy.db'}"
    factory, close = await open_auth_factory(url, secrets_env())
    runtime = build_runtime(project, secrets_env(), auth_factory=factory)
    await runtime.close()
    await close()
    assert not (tmp_path / "lazy.db").exists()
