"""Authorizing through the daemon: `runner connect NAME --via-server URL` and `GET /oauth/callback`.

The one way it works: the command writes a *pending flow* (state, PKCE verifier, deadline) into
the store the daemon uses, encrypted like tokens, and prints the authorization URL. The provider
redirects the browser to the daemon's `/oauth/callback` (the connection's `redirect_uri`); the
daemon finds the flow by the connection name that starts the state, checks the state, exchanges
the code with its own copy of the connection, stores the tokens and writes the outcome into the
flow. The command, polling the store, reports that outcome and removes the flow.

Only someone who can write to the store with RUNNER_SECRET_KEY can start a flow, so a stranger
who reaches the daemon cannot bind the connection to an account of their own.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runner.errors import AuthError, RunnerError
from runner.oauth.authorization_code import (
    AuthorizationCodeAuth,
    AuthorizationRequest,
    connection_of_state,
)
from runner.oauth.callback import code_from_callback, page
from runner.oauth.tokens import TokenSet

if TYPE_CHECKING:
    from runner.engine.runtime import Runtime

__all__ = ["complete_pending", "make_callback_handler", "start_pending", "wait_pending"]

log = logging.getLogger(__name__)
POLL_INTERVAL = 0.25


async def start_pending(auth: AuthorizationCodeAuth, timeout: float) -> AuthorizationRequest:
    """A new authorization request, registered in the store for the daemon's callback."""
    request = auth.authorization_request()
    await auth.vault.save_pending(auth.connection, {
        "state": request.state, "verifier": request.verifier,
        "expires_at": time.time() + timeout, "result": None, "message": None,
    })
    return request


async def wait_pending(
    auth: AuthorizationCodeAuth, request: AuthorizationRequest, timeout: float
) -> TokenSet:
    """Waits for the daemon to complete the flow; raises AuthError on its failure or a timeout."""
    name, vault = auth.connection, auth.vault
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow = await vault.load_pending(name)
        if flow is None or flow.get("state") != request.state:
            raise AuthError(
                f"the authorization of connection {name} was replaced or removed by another "
                "`runner connect`; nothing was stored by this one"
            )
        if flow.get("result") is not None:
            await vault.delete_pending(name)
            if flow["result"] != "ok":
                raise AuthError(str(flow.get("message") or "the daemon could not authorize"))
            tokens = await vault.load(name)
            if tokens is None:
                raise AuthError(f"the daemon reported success but stored no token for {name}")
            return tokens
        await asyncio.sleep(POLL_INTERVAL)
    flow = await vault.load_pending(name)
    if flow is not None and flow.get("state") == request.state:
        await vault.delete_pending(name)
    raise AuthError(
        f"no callback completed the authorization within {timeout:g}s; nothing was stored. If "
        "the browser showed an error page from the daemon, it says why (a daemon on another "
        "store, or with another RUNNER_SECRET_KEY, cannot see or finish this authorization); if "
        f"not, check that the app's redirect URI is exactly {auth.redirect_uri} and that it "
        "reaches the daemon"
    )


async def complete_pending(auth: AuthorizationCodeAuth, query: Mapping[str, str]) -> str:
    """The daemon's half: checks the callback against the pending flow and exchanges the code."""
    name, vault = auth.connection, auth.vault
    flow = await vault.load_pending(name)
    if flow is None or flow.get("result") is not None or float(flow["expires_at"]) < time.time():
        raise AuthError(
            f"no authorization of connection {name} is waiting for a callback (it expired or "
            f"is finished): run `runner connect {name} --via-server URL` again"
        )
    if not hmac.compare_digest(query.get("state", "").encode(), str(flow["state"]).encode()):
        # Not this flow's callback (a forged or stale one): refused, and the flow goes on
        # waiting, so that whoever can reach the daemon cannot cancel an authorization.
        raise AuthError(f"the callback's state does not match the authorization of connection "
                        f"{name} that is waiting; it goes on waiting")
    try:
        code = code_from_callback(query, str(flow["state"]), name)
        tokens = await auth.complete(code, flow.get("verifier"))
    except RunnerError as exc:
        await vault.save_pending(name, _ended(flow, "error", str(exc)))
        raise
    scopes = " ".join(tokens.scopes) or "none listed"
    message = f"connection {name} is authorized (scopes: {scopes})"
    await vault.save_pending(name, _ended(flow, "ok", message))
    return message


def _ended(flow: dict[str, Any], result: str, message: str) -> dict[str, Any]:
    return {**flow, "verifier": None, "result": result, "message": message}


def make_callback_handler(
    get_runtime: Callable[[], Runtime | None],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The daemon's `GET /oauth/callback` handler; `get_runtime` returns the current Runtime."""

    async def handler(request: web.Request) -> web.Response:
        query = dict(request.query)
        name = connection_of_state(query.get("state", ""))
        runtime = get_runtime()
        conn = runtime.connections.get(name) if runtime is not None and name else None
        auth = conn.client.settings.auth if conn is not None else None
        if not isinstance(auth, AuthorizationCodeAuth):
            return page(False, "No authorization is waiting for this callback on this server. "
                               "Start one with `runner connect NAME --via-server URL`.")
        try:
            message = await complete_pending(auth, query)
        except RunnerError as exc:
            log.warning("OAuth2 authorization failed", extra={"connection": name, "error": str(exc)})
            return page(False, str(exc))
        log.info("OAuth2 connection authorized", extra={"connection": name})
        return page(True, message)

    return handler
