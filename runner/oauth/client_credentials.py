"""The client-credentials grant: a token for the application itself, kept in memory only.

Such a token costs one request to obtain again, so it is not written to the store: a process
fetches it on first use, shares it between all its jobs, renews it before it expires and once
after a 401, and needs no RUNNER_SECRET_KEY for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.oauth.endpoint import TokenEndpoint
from runner.oauth.strategy import DEFAULT_SKEW, OAuth2Auth
from runner.oauth.tokens import TokenSet
from runner.redact import Redactor

__all__ = ["ClientCredentialsAuth"]


class ClientCredentialsAuth(OAuth2Auth):
    """`oauth2_client_credentials`: scopes and audience go with every token request."""

    def __init__(
        self, endpoint: TokenEndpoint, redactor: Redactor, *,
        scopes: list[str] | None = None, audience: str | None = None,
        clock: Callable[[], float] | None = None, skew: float = DEFAULT_SKEW,
    ) -> None:
        kwargs: dict[str, Any] = {"skew": skew}
        if clock is not None:
            kwargs["clock"] = clock
        super().__init__(endpoint.connection, redactor, **kwargs)
        self.endpoint = endpoint
        self.scopes = list(scopes or [])
        self.audience = audience or None

    async def _renew(self, forced: bool) -> None:
        body = await self.endpoint.request(
            "client_credentials", scope=self.scopes or None, audience=self.audience
        )
        self._install(TokenSet.from_response(body, self.clock(), self.scopes))
