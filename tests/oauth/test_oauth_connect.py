"""`runner connect` against the fault-injecting provider: the URL, the callback, every way it fails."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from runner.commands import connect as connect_command
from runner.commands.common import CommandError
from tests.oauth.oauth_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    SECRET_KEY,
    ConnectSetup,
    Provider,
    provider,
    run_connect,
    secrets_env,
)

__all__ = ["provider"]  # fixtures


async def test_connect_authorizes_with_state_pkce_and_exact_redirect_uri(
    tmp_path: Path, provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = ConnectSetup(tmp_path, provider.url)
    code, status, page = await run_connect(setup)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert status == 200 and "Connected" in page
    [query] = provider.authorize_queries
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == setup.redirect and query["scope"] == "read write"
    assert query["state"].startswith("svc.") and len(query["state"]) > 30
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    [call] = provider.calls
    assert call.form["grant_type"] == "authorization_code"
    assert call.form["redirect_uri"] == setup.redirect and len(call.form["code_verifier"]) == 64
    assert call.form["client_secret"] == CLIENT_SECRET
    stored = await setup.stored()
    assert stored is not None and stored.scopes == ("read", "write") and stored.refresh_token
    assert "✓ connection svc is authorized" in out.out
    for text in (out.out, out.err, page):
        assert stored.access_token not in text and stored.refresh_token not in text
        assert CLIENT_SECRET not in text


async def test_connect_without_pkce_sends_no_challenge(tmp_path: Path, provider: Provider) -> None:
    setup = ConnectSetup(tmp_path, provider.url, pkce=False)
    code, _, _ = await run_connect(setup)
    assert code == 0
    assert "code_challenge" not in provider.authorize_queries[0]
    assert "code_verifier" not in provider.calls[0].form


async def test_a_provider_error_on_the_callback_stores_nothing(
    tmp_path: Path, provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.deny = "access_denied"
    setup = ConnectSetup(tmp_path, provider.url)
    code, status, page = await run_connect(setup)
    err = capsys.readouterr().err
    assert code == 1 and status == 400 and "Authorization failed" in page
    assert "refused to authorize connection svc: access_denied: The user said no" in err
    assert "nothing was stored" in err
    assert provider.calls == [] and await setup.stored() is None


async def test_a_wrong_state_stores_nothing(
    tmp_path: Path, provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.forge_state = True
    setup = ConnectSetup(tmp_path, provider.url)
    code, status, _ = await run_connect(setup)
    err = capsys.readouterr().err
    assert code == 1 and status == 400
    assert "state does not match" in err and "nothing was stored" in err
    assert provider.calls == [] and await setup.stored() is None


async def test_no_callback_before_the_timeout_stores_nothing(
    tmp_path: Path, provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = ConnectSetup(tmp_path, provider.url)
    code = await connect_command.connect(setup.args(timeout="300ms"), secrets_env())
    err = capsys.readouterr().err
    assert code == 1
    assert f"no redirect reached {setup.redirect} within 0.3s; nothing was stored" in err
    assert await setup.stored() is None


async def test_a_failed_code_exchange_is_reported_and_stores_nothing(
    tmp_path: Path, provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.next_error = (400, {"error": "invalid_grant", "error_description": "code expired"})
    setup = ConnectSetup(tmp_path, provider.url)
    code, status, page = await run_connect(setup)
    err = capsys.readouterr().err
    assert code == 1 and status == 400 and "code expired" in page
    assert "answered 400 to the authorization_code grant: invalid_grant: code expired" in err
    assert await setup.stored() is None


async def test_a_taken_port_is_an_environment_error(tmp_path: Path, provider: Provider) -> None:
    setup = ConnectSetup(tmp_path, provider.url)
    port = int(setup.redirect.split(":")[2].split("/")[0])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(CommandError) as caught:
            await connect_command.connect(setup.args(), secrets_env())
    assert caught.value.code == 2 and f"cannot listen on 127.0.0.1:{port}" in str(caught.value)
    assert f"--via-server http://127.0.0.1:{port}" in str(caught.value)  # a daemon may hold it


async def test_a_redirect_host_of_another_machine_says_so(tmp_path: Path, provider: Provider) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never an address of this machine, so binding it fails.
    setup = ConnectSetup(tmp_path, provider.url, redirect="http://192.0.2.10:8765/oauth/callback")
    with pytest.raises(CommandError) as caught:
        await connect_command.connect(setup.args(), secrets_env())
    message = str(caught.value)
    assert caught.value.code == 2 and "cannot listen on 192.0.2.10:8765" in message
    assert "192.0.2.10 is not an address of this machine" in message and "--via-server" in message
    assert provider.authorize_queries == []


def test_without_secret_key_connect_stops_before_anything(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = ConnectSetup(tmp_path, provider.url)
    monkeypatch.setenv("CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.delenv("RUNNER_SECRET_KEY", raising=False)
    monkeypatch.setenv("RUNNER_SECRETS_DIR", str(tmp_path / "no-secrets"))
    assert connect_command.run(setup.args()) == 2
    err = capsys.readouterr().err
    assert "RUNNER_SECRET_KEY is not set: it encrypts the OAuth2 tokens" in err
    assert provider.authorize_queries == [] and not setup.db.exists()
    monkeypatch.setenv("RUNNER_SECRET_KEY", SECRET_KEY[:10])
    assert connect_command.run(setup.args()) == 2
    assert "too short" in capsys.readouterr().err


def test_connect_refuses_other_auth_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kind: connection\nname: plain\nbase_url: https://api.example.com\n")
    args = argparse.Namespace(name="plain", paths=[str(path)], store=None, timeout="5m",
                              no_browser=True, via_server=None)
    assert connect_command.run(args) == 1
    assert "uses auth type none" in capsys.readouterr().err
    args.name = "missing"
    assert connect_command.run(args) == 1
    assert "no connection named 'missing' (connections: plain)" in capsys.readouterr().err


async def test_an_https_redirect_uri_needs_the_daemon(tmp_path: Path, provider: Provider) -> None:
    setup = ConnectSetup(tmp_path, provider.url, redirect="https://runner.example.com/oauth/callback")
    with pytest.raises(CommandError) as caught:
        await connect_command.connect(setup.args(), secrets_env())
    assert caught.value.code == 2 and "--via-server" in str(caught.value)
    assert provider.authorize_queries == []


async def test_auth_params_may_not_replace_the_flows_own(tmp_path: Path, provider: Provider) -> None:
    setup = ConnectSetup(tmp_path, provider.url)
    setup.path.write_text(setup.path.read_text().replace("prompt: consent", "state: fixed"))
    with pytest.raises(CommandError) as caught:
        await connect_command.connect(setup.args(), secrets_env())
    assert caught.value.code == 1 and "auth_params may not set state" in str(caught.value)
