"""The runtime a one-shot command (`run`, `connection test`) sends with, OAuth2 included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from runner.engine.runtime import Runtime, build_runtime
from runner.recipe.compile import Project
from runner.redact import Redactor
from runner.secrets import SecretSource


class PreviewSecrets(SecretSource):
    """For `--dry-run`, which sends nothing: a secret that is not provided reads as a stand-in,
    recorded (so shown as `***`) like any secret value, so the requests can be previewed where
    the credentials are not at hand (a laptop, CI)."""

    def get(self, name: str) -> str | None:
        value = super().get(name)
        return value if value is not None else f"<secret {name} not provided>"


@asynccontextmanager
async def command_runtime(
    project: Project, store: str | None, redactor: Redactor, dry_run: bool = False
) -> AsyncIterator[Runtime]:
    """Builds the runtime (RunnerError when a connection cannot be set up) and closes it, and the
    token store OAuth2 may have opened, on the way out. `redactor` is the caller's, so it can
    redact the error of a runtime that could not be built. A dry run needs neither the secrets
    nor the TLS files: nothing is sent."""
    from runner.oauth.wiring import open_auth_factory

    secrets = PreviewSecrets() if dry_run else SecretSource()
    factory, close_auth = await open_auth_factory(store, secrets)
    try:
        runtime = build_runtime(project, secrets, redactor, auth_factory=factory,
                                load_tls=not dry_run)
        try:
            yield runtime
        finally:
            await runtime.close()
    finally:
        await close_auth()
