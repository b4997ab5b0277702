"""The runtime a one-shot command (`run`, `connection test`) sends with, OAuth2 included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from runner.engine.runtime import Runtime, build_runtime
from runner.recipe.compile import Project
from runner.redact import Redactor
from runner.secrets import SecretSource


@asynccontextmanager
async def command_runtime(project: Project, store: str | None, redactor: Redactor) -> AsyncIterator[Runtime]:
    """Builds the runtime (RunnerError when a connection cannot be set up) and closes it, and the
    token store OAuth2 may have opened, on the way out. `redactor` is the caller's, so it can
    redact the error of a runtime that could not be built."""
    from runner.oauth.wiring import open_auth_factory

    secrets = SecretSource()
    factory, close_auth = await open_auth_factory(store, secrets)
    try:
        runtime = build_runtime(project, secrets, redactor, auth_factory=factory)
        try:
            yield runtime
        finally:
            await runtime.close()
    finally:
        await close_auth()
