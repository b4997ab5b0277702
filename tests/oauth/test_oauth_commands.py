"""OAuth2 through the commands users run: `runner connection test` and `runner run` as processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.oauth.oauth_support import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    connection_yaml,
    provider,
)

__all__ = ["provider"]


async def runner(*args: str, cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "RUNNER_SECRETS_DIR": str(cwd / "no-secrets")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runner", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


def write(tmp_path: Path, url: str) -> None:
    text = connection_yaml(url, CLIENT_CREDENTIALS.format(url=url, method="client_secret_basic"))
    text += "test: {method: GET, url: /api/me}\n"
    text += (
        "---\nkind: recipe\nname: me\ntrigger: {webhook: {}}\n"
        "steps:\n  - id: me\n    request: {connection: svc, url: /api/me}\n"
    )
    (tmp_path / "svc.yaml").write_text(text)


async def test_connection_test_gets_a_token_and_succeeds(tmp_path: Path, provider: Provider) -> None:
    write(tmp_path, provider.url)
    code, out, err = await runner("connection", "test", "svc", "svc.yaml", cwd=tmp_path)
    assert code == 0, out + err
    assert "✓ connection svc works" in out
    assert len(provider.grants("client_credentials")) == 1
    assert CLIENT_SECRET not in out + err
    token = provider.api_auth[-1].removeprefix("Bearer ")
    assert token and token not in out + err
    assert not (tmp_path / "runner.db").exists()  # client credentials need no store


async def test_run_sends_the_bearer_token_and_keeps_it_out_of_the_job(tmp_path: Path, provider: Provider) -> None:
    write(tmp_path, provider.url)
    code, out, err = await runner("run", "me", "svc.yaml", "--format", "json", cwd=tmp_path)
    assert code == 0, out + err
    job = json.loads(out)
    assert job["status"] == "succeeded"
    token = provider.api_auth[-1].removeprefix("Bearer ")
    assert token not in out + err
    sent = dict(job["steps"][0]["calls"][0]["request"]["headers"])
    assert sent.get("Authorization") == "***"


def write_authorization_code(tmp_path: Path, url: str) -> None:
    auth = AUTHORIZATION_CODE.format(url=url, redirect="http://127.0.0.1:8765/oauth/callback",
                                     pkce="true")
    text = connection_yaml(url, auth) + "test: {method: GET, url: /api/me}\n"
    text += ("---\nkind: recipe\nname: me\ntrigger: {webhook: {}}\n"
             "steps:\n  - id: me\n    request: {connection: svc, url: /api/me}\n")
    (tmp_path / "svc.yaml").write_text(text)


async def test_without_the_secret_key_authorization_code_commands_stop_with_exit_2(
    tmp_path: Path, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key encrypts the stored tokens: run, connection test and serve all need it, and say
    so before sending anything, as the environment's problem (exit 2)."""
    write_authorization_code(tmp_path, provider.url)
    monkeypatch.delenv("RUNNER_SECRET_KEY", raising=False)
    for args in (["run", "me", "svc.yaml"], ["connection", "test", "svc", "svc.yaml"],
                 ["serve", "svc.yaml", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]):
        code, out, err = await runner(*args, cwd=tmp_path)
        assert code == 2, (args, out, err)
        assert "RUNNER_SECRET_KEY is not set" in err or (
            "secret 'RUNNER_SECRET_KEY' is not provided" in err)  # serve: where it is needed
    assert provider.calls == []
