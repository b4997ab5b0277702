"""Helpers that plug OAuth2 into the commands and the daemon (see `runner.oauth` for the pieces).

    runner run / runner connection test:
        factory, close = await open_auth_factory(args_store_or_None, secrets)
        runtime = build_runtime(project, secrets, redactor, auth_factory=factory)
        ... finally: await runtime.close(); await close()
    runner serve (the daemon already holds an open store):
        auth_factory = make_auth_factory(daemon.store, daemon.secrets)
        require_secret_key(project, secrets)            # at start-up: refuse early, clearly
        daemon.complete_oauth = make_callback_handler(lambda: daemon.active and daemon.active.runtime)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from runner.errors import SecretError
from runner.oauth.daemon_callback import make_callback_handler
from runner.oauth.factory import make_auth_factory
from runner.oauth.tokens import missing_key_message
from runner.secrets import SecretSource
from runner.store import open_store
from runner.store.base import Store

if TYPE_CHECKING:
    from runner.engine.runtime import AuthFactory
    from runner.recipe.compile import Project

__all__ = [
    "DEFAULT_STORE",
    "make_auth_factory",
    "make_callback_handler",
    "open_auth_factory",
    "require_secret_key",
    "store_url",
]

DEFAULT_STORE = "sqlite:///runner.db"  # as `runner serve` and `runner jobs`


def store_url(given: str | None) -> str:
    """`--store`, else $RUNNER_STORE, else sqlite:///runner.db in the working directory."""
    return given or os.environ.get("RUNNER_STORE") or DEFAULT_STORE


async def open_auth_factory(
    url: str | None, secrets: SecretSource
) -> tuple[AuthFactory, Callable[[], Awaitable[None]]]:
    """An auth factory for one-shot commands, and the function that closes what it opened.

    The store is opened only when an authorization-code connection first needs its token, so
    a project without one never creates `runner.db`.
    """
    opened: list[Store] = []
    lock = asyncio.Lock()

    async def get_store() -> Store:
        async with lock:
            if not opened:
                store = open_store(store_url(url))
                await store.open()
                opened.append(store)
            return opened[0]

    async def close() -> None:
        while opened:
            await opened.pop().close()

    return make_auth_factory(get_store, secrets), close


def uses_stored_tokens(project: Project) -> list[str]:
    """The connections whose tokens live in the store (authorization code)."""
    return sorted(
        name for name, conn in project.connections.items()
        if conn.spec.auth.type == "oauth2_authorization_code"
    )


def require_secret_key(project: Project, secrets: SecretSource) -> None:
    """SecretError when a connection needs stored tokens and RUNNER_SECRET_KEY is missing or short."""
    names = uses_stored_tokens(project)
    if names and secrets.secret_key() is None:
        raise SecretError(f"connection {', '.join(names)}: {missing_key_message()}")
