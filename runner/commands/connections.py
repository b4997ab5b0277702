"""`runner connections`: every connection, its auth type and, for OAuth2, whether it is authorized.

For an authorization-code connection it reads the stored token record (decrypting it with
RUNNER_SECRET_KEY) and shows its state, scopes and expiry: never a token. The store is opened
only when some connection keeps tokens there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from runner.commands.common import CommandError, fail, load_project
from runner.errors import RunnerError, SecretError, StoreError
from runner.oauth.tokens import TokenSet, TokenVault
from runner.oauth.wiring import store_url, uses_stored_tokens
from runner.recipe.compile import Connection, Project
from runner.recipe.models import OAuth2ClientCredentialsAuth
from runner.secrets import SecretSource
from runner.store import open_store


def run(args: argparse.Namespace) -> int:
    try:
        project, _ = load_project(args.paths)
        rows = asyncio.run(connection_rows(project, args.store, SecretSource()))
    except CommandError as exc:
        return fail(exc)
    if getattr(args, "format", "text") == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(rows))
    return 0


async def connection_rows(
    project: Project, store: str | None, secrets: SecretSource
) -> list[dict[str, Any]]:
    """One row per connection, sorted by name: name, auth, status, scopes, expires_at, detail."""
    vault: TokenVault | None = None
    if uses_stored_tokens(project):
        opened = open_store(store_url(store))
        try:
            await opened.open()
        except StoreError as exc:
            raise CommandError(f"runner: store: {exc}", 2) from exc
        vault = TokenVault(opened, secrets)
    try:
        return [await _row(conn, vault) for _, conn in sorted(project.connections.items())]
    finally:
        if vault is not None:
            await (await vault.store()).close()


async def _row(conn: Connection, vault: TokenVault | None) -> dict[str, Any]:
    auth = conn.spec.auth
    row: dict[str, Any] = {"name": conn.name, "auth": auth.type, "status": "-", "scopes": None,
                           "expires_at": None, "refresh_token": None, "detail": ""}
    if isinstance(auth, OAuth2ClientCredentialsAuth):
        row.update(status="on-demand", scopes=list(auth.scopes),
                   detail="token requested when a job needs it; kept in memory, not stored")
    elif auth.type == "oauth2_authorization_code" and vault is not None:
        row.update(await _stored_state(conn.name, vault))
    return row


async def _stored_state(name: str, vault: TokenVault) -> dict[str, Any]:
    connect = f"run `runner connect {name}`"
    try:
        tokens = await vault.load(name)
    except SecretError as exc:
        present = await vault.has_blob(name)
        detail = f"a token is stored but cannot be read: {exc}" if present else f"{exc}"
        return {"status": "unknown", "detail": detail}
    except RunnerError as exc:
        return {"status": "unreadable", "detail": str(exc)}
    if tokens is None:
        return {"status": "not-authorized", "detail": connect}
    state = _token_state(tokens)
    if tokens.needs_authorization:
        state.update(status="needs-authorization", detail=f"{tokens.needs_authorization}; {connect}")
    return state


def _token_state(tokens: TokenSet) -> dict[str, Any]:
    expires = None if tokens.expires_at is None else _iso(tokens.expires_at)
    state: dict[str, Any] = {
        "status": "authorized", "scopes": list(tokens.scopes), "expires_at": expires,
        "refresh_token": tokens.refresh_token is not None,
        "detail": "access token does not expire" if expires is None else "",
    }
    if tokens.expires_at is not None and tokens.expires_at <= time.time():
        state["status"] = "expired"
        state["detail"] = ("renewed with the refresh token on next use" if tokens.refresh_token
                           else "no refresh token: run `runner connect` again")
    return state


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_table(rows: list[dict[str, Any]]) -> str:
    """Aligned text: NAME AUTH STATUS, then scopes, expiry and a hint where there is one."""
    if not rows:
        return "no connections\n"
    name_w = max(len("NAME"), *(len(r["name"]) for r in rows))
    auth_w = max(len("AUTH"), *(len(r["auth"]) for r in rows))
    status_w = max(len("STATUS"), *(len(r["status"]) for r in rows))
    lines = [f"{'NAME':<{name_w}}  {'AUTH':<{auth_w}}  {'STATUS':<{status_w}}  DETAILS"]
    for r in rows:
        details = []
        if r["scopes"] is not None:
            details.append("scopes: " + (" ".join(r["scopes"]) or "none"))
        if r["expires_at"]:
            details.append(f"expires {r['expires_at']}")
        if r["refresh_token"] is not None:
            details.append("refresh token: " + ("yes" if r["refresh_token"] else "no"))
        if r["detail"]:
            details.append(r["detail"])
        lines.append(f"{r['name']:<{name_w}}  {r['auth']:<{auth_w}}  {r['status']:<{status_w}}  "
                     + "; ".join(details))
    return "\n".join(lines) + "\n"
