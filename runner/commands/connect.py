"""`runner connect NAME`: authorize an OAuth2 authorization-code connection and store its tokens.

Without `--via-server`, the command listens once on the connection's redirect_uri (by default
http://127.0.0.1:8765/oauth/callback), prints the authorization URL and waits for the browser to
come back. With `--via-server URL`, the running daemon at URL receives the callback instead (see
`runner.oauth.daemon_callback`). Exit 0: authorized and stored; 1: refused, wrong state, timeout
or invalid documents, nothing stored; 2: environment (no RUNNER_SECRET_KEY, port taken, store or
daemon unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from yarl import URL

from runner.commands.common import CommandError, fail, load_project
from runner.durations import parse_duration
from runner.engine.runtime import Runtime, build_runtime
from runner.errors import AuthError, RunnerError, SecretError, StoreError
from runner.oauth.authorization_code import AuthorizationCodeAuth, AuthorizationRequest
from runner.oauth.callback import CallbackListener, code_from_callback
from runner.oauth.daemon_callback import start_pending, wait_pending
from runner.oauth.factory import make_auth_factory
from runner.oauth.tokens import TokenSet, missing_key_message
from runner.oauth.wiring import store_url
from runner.recipe.compile import Project
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.store import open_store
from runner.store.base import Store

Announce = Callable[[AuthorizationRequest], None]
CALLBACK_PATH = "/oauth/callback"


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(connect(args))
    except CommandError as exc:
        return fail(exc)


async def connect(
    args: argparse.Namespace, secrets: SecretSource | None = None,
    on_url: Callable[[str], None] | None = None,
) -> int:
    """The whole command; `on_url` also receives the authorization URL (tests follow it)."""
    secrets = secrets or SecretSource()
    timeout = _timeout(args.timeout)
    project, _ = load_project(args.paths)
    _check_connection(project, args.name)
    _check_key(secrets)
    store = open_store(store_url(args.store))
    runtime = _runtime(project, args.name, secrets, store)  # touches the store only later
    try:
        await store.open()
    except StoreError as exc:
        await runtime.close()
        raise CommandError(f"runner: store: {exc}", 2) from exc
    auth = runtime.connections[args.name].client.settings.auth
    assert isinstance(auth, AuthorizationCodeAuth)
    announce = _announcer(args, on_url, timeout)
    try:
        if args.via_server:
            tokens = await _via_server(auth, args.via_server, timeout, announce)
        else:
            tokens = await _local(auth, timeout, announce)
    except AuthError as exc:
        sys.stderr.write(f"✗ {runtime.redactor.redact_text(str(exc))}\n")
        return 1
    finally:
        await runtime.close()
        await store.close()
    _report(args.name, tokens, args.store)
    return 0


def _runtime(project: Project, name: str, secrets: SecretSource, store: Store) -> Runtime:
    """A runtime of this one connection: other connections' secrets need not be provided."""
    single = Project({name: project.connections[name]}, {})
    factory = make_auth_factory(store, secrets)
    try:
        return build_runtime(single, secrets, Redactor(), auth_factory=factory)
    except RunnerError as exc:
        raise CommandError(f"runner: {exc}", 2 if _missing_secret(exc) else 1) from exc


def _missing_secret(exc: BaseException | None) -> bool:
    """A secret not provided is the environment's problem (exit 2), however it was wrapped."""
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, SecretError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _timeout(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise CommandError(f"runner: --timeout: {exc}", 2) from exc


def _check_connection(project: Project, name: str) -> None:
    conn = project.connections.get(name)
    if conn is None:
        known = ", ".join(sorted(project.connections)) or "none"
        raise CommandError(f"runner: no connection named '{name}' (connections: {known})", 1)
    kind = conn.spec.auth.type
    if kind != "oauth2_authorization_code":
        hint = " (its tokens are fetched when needed)" if kind == "oauth2_client_credentials" else ""
        raise CommandError(
            f"runner: connection {name} uses auth type {kind}{hint}; `runner connect` "
            "authorizes oauth2_authorization_code connections only", 1,
        )


def _check_key(secrets: SecretSource) -> None:
    try:
        key = secrets.secret_key()
    except SecretError as exc:
        raise CommandError(f"runner: {exc}", 2) from exc
    if key is None:
        raise CommandError(f"runner: {missing_key_message()}", 2)


async def _local(auth: AuthorizationCodeAuth, timeout: float, announce: Announce) -> TokenSet:
    """Listens once on the redirect_uri; the first callback decides."""
    request = auth.authorization_request()
    try:
        listener = CallbackListener(request.redirect_uri)
    except AuthError as exc:
        raise CommandError(f"runner: connection {auth.connection}: {exc}", 2) from exc
    try:
        await listener.__aenter__()
    except OSError as exc:
        raise CommandError(f"runner: {exc}; {_listen_hint(exc, listener.host, listener.port)}",
                           2) from exc
    try:
        announce(request)
        try:
            query = await listener.wait(timeout)
        except TimeoutError:
            raise AuthError(_timeout_message(auth, timeout)) from None
        try:
            code = code_from_callback(query, request.state, auth.connection)
            tokens = await auth.complete(code, request.verifier)
        except RunnerError as exc:
            listener.finish(False, auth.redactor.redact_text(str(exc)))
            raise AuthError(str(exc)) from exc
        listener.finish(True, f"Connection {auth.connection} is authorized. Back to the terminal.")
        return tokens
    finally:
        await listener.__aexit__(None, None, None)


def _timeout_message(auth: AuthorizationCodeAuth, timeout: float) -> str:
    return (
        f"no redirect reached {auth.redirect_uri} within {timeout:g}s; nothing was stored. "
        f"Check that the app's registered redirect URI is exactly {auth.redirect_uri}"
    )


async def _via_server(
    auth: AuthorizationCodeAuth, server: str, timeout: float, announce: Announce
) -> TokenSet:
    """The daemon at `server` receives the callback; the flow meets it in the shared store."""
    if URL(auth.redirect_uri).path != CALLBACK_PATH:
        raise CommandError(
            f"runner: connection {auth.connection}: with --via-server, redirect_uri must be the "
            f"daemon's {CALLBACK_PATH} (for example https://runner.example.com{CALLBACK_PATH}), "
            f"not {auth.redirect_uri}", 1,
        )
    await _check_daemon(server)
    request = await start_pending(auth, timeout)
    announce(request)
    return await wait_pending(auth, request, timeout)


async def _check_daemon(server: str) -> None:
    url = server.rstrip("/") + "/healthz"
    try:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status == 200:
                return
            problem = f"answered {response.status}"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        problem = f"is not reachable ({type(exc).__name__})"
    raise CommandError(f"runner: --via-server: the daemon at {url} {problem}", 2)


def _announcer(args: argparse.Namespace, on_url: Callable[[str], None] | None,
               timeout: float) -> Announce:
    def announce(request: AuthorizationRequest) -> None:
        sys.stdout.write(
            f"Open this URL in a browser to authorize connection {args.name}:\n\n  {request.url}\n\n"
            f"Waiting up to {args.timeout} for the provider to redirect to {request.redirect_uri}"
            f"{' (through the daemon at ' + args.via_server + ')' if args.via_server else ''}...\n"
        )
        sys.stdout.flush()
        if on_url is not None:
            on_url(request.url)
        if not args.no_browser and _has_browser():
            webbrowser.open(request.url)

    return announce


def _has_browser() -> bool:
    """Only a graphical browser: on a bare terminal, webbrowser might start a text one."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def _report(name: str, tokens: TokenSet, store: str | None) -> None:
    expiry = "does not expire" if tokens.expires_at is None else (
        "expires " + datetime.fromtimestamp(tokens.expires_at, UTC).isoformat(timespec="seconds")
    )
    sys.stdout.write(
        f"✓ connection {name} is authorized: scopes: {' '.join(tokens.scopes) or 'none listed'}; "
        f"access token {expiry}; refresh token: {'yes' if tokens.refresh_token else 'no'}\n"
        f"  tokens stored encrypted in {shown_store(store_url(store))}\n"
    )


def shown_store(url: str) -> str:
    """The store URL without the credentials a database URL may hold."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{scheme}{sep}{host}{slash}{path}"


def _listen_hint(exc: OSError, host: str, port: int) -> str:
    """What to do when the redirect URI's address cannot be listened on, by why it cannot."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    if cause.errno == errno.EADDRINUSE:
        return ("stop what uses it, or, if it is `runner serve`, finish the authorization through "
                f"it with --via-server http://{host}:{port}; or change the connection's "
                "redirect_uri (and the app's registered redirect URI) to another port")
    if cause.errno == errno.EACCES:
        return (f"port {port} needs privileges this process lacks: use a redirect_uri with a port "
                "above 1023, or --via-server with a daemon that redirect_uri reaches")
    if cause.errno == errno.EADDRNOTAVAIL or isinstance(cause, socket.gaierror):
        return (f"{host} is not an address of this machine that runner connect may listen on: "
                "use --via-server with the URL of the daemon that redirect_uri reaches, or an "
                "http://127.0.0.1:PORT/... redirect_uri")
    return "change the connection's redirect_uri (and the app's registered redirect URI)"
