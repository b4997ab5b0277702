"""The authorization-code grant: the authorization URL, the code exchange, stored and refreshed tokens.

Tokens live encrypted in the store (`TokenVault`), so `runner connect` in one process authorizes
the daemon in another. Renewing holds the store's token lock and re-reads the store first, so
of several processes (replicas) sharing a store one refreshes and the others use its result. A refresh token the provider refuses with `invalid_grant` marks the
stored record as needing authorization: from then on every job using the connection fails at
once with "connection NAME needs authorization: run `runner connect NAME`", and no further
token request is sent until a new authorization is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from runner.errors import AuthError
from runner.oauth.endpoint import TokenEndpoint, TokenEndpointError
from runner.oauth.strategy import DEFAULT_SKEW, OAuth2Auth, needs_authorization_message
from runner.oauth.tokens import TokenSet, TokenVault
from runner.recipe.models import RESERVED_AUTH_PARAMS
from runner.redact import Redactor

__all__ = ["RESERVED_PARAMS", "AuthorizationCodeAuth", "AuthorizationRequest"]

# Parameters the flow itself sets; `auth_params` may not replace them.
RESERVED_PARAMS = RESERVED_AUTH_PARAMS  # checked by `runner validate` too
STATE_SEPARATOR = "."  # state = "<connection>.<random>": the daemon's callback finds the flow by it
VERIFIER_LENGTH = 64  # RFC 7636: 43 to 128 characters


@dataclass(frozen=True, repr=False)
class AuthorizationRequest:
    """One authorization attempt: the URL to open and what its callback must match."""

    url: str
    state: str
    verifier: str | None  # the PKCE code verifier; None with `pkce: false`
    redirect_uri: str

    def __repr__(self) -> str:
        return f"<AuthorizationRequest redirect_uri={self.redirect_uri!r}>"


def connection_of_state(state: str) -> str:
    return state.split(STATE_SEPARATOR, 1)[0]


class AuthorizationCodeAuth(OAuth2Auth):
    """`oauth2_authorization_code`: tokens from `runner connect`, refreshed as needed."""

    def __init__(
        self, endpoint: TokenEndpoint, vault: TokenVault, redactor: Redactor, *,
        authorization_url: str, redirect_uri: str, scopes: list[str] | None = None,
        pkce: bool = True, auth_params: dict[str, Any] | None = None,
        clock: Callable[[], float] | None = None, skew: float = DEFAULT_SKEW,
    ) -> None:
        kwargs: dict[str, Any] = {"skew": skew} if clock is None else {"skew": skew, "clock": clock}
        super().__init__(endpoint.connection, redactor, **kwargs)
        self.endpoint, self.vault = endpoint, vault
        self.authorization_url, self.redirect_uri = authorization_url, redirect_uri
        self.scopes, self.pkce = list(scopes or []), pkce
        self.auth_params = {k: "" if v is None else str(v) for k, v in (auth_params or {}).items()}
        clash = sorted(RESERVED_PARAMS & set(self.auth_params))
        if clash:
            raise AuthError(
                f"connection {self.connection}: auth_params may not set {', '.join(clash)}: "
                "the authorization flow sets them itself"
            )

    def authorization_request(self) -> AuthorizationRequest:
        """A new URL with a random state and, unless `pkce: false`, an S256 code challenge."""
        state = f"{self.connection}{STATE_SEPARATOR}{generate_token(32)}"
        verifier = generate_token(VERIFIER_LENGTH) if self.pkce else None
        pkce = {} if verifier is None else {
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
        }
        url = prepare_grant_uri(
            self.authorization_url, self.endpoint.client_id, "code", self.redirect_uri,
            scope=self.scopes or None, state=state, **pkce, **self.auth_params,
        )
        return AuthorizationRequest(url, state, verifier, self.redirect_uri)

    async def complete(self, code: str, verifier: str | None) -> TokenSet:
        """Exchanges an authorization code and stores the tokens (encrypted) for every process."""
        self.vault.cipher()  # no key, no exchange: a code is single-use and must not be wasted
        async with self._lock, self.vault.locked(self.connection):
            body = await self.endpoint.request(
                "authorization_code", redirect_uri=self.redirect_uri, code=code,
                code_verifier=verifier,
            )
            tokens = TokenSet.from_response(body, self.clock(), self.scopes)
            await self.vault.save(self.connection, tokens)
            self._install(tokens)
        return tokens

    async def _renew(self, forced: bool) -> None:
        async with self.vault.locked(self.connection):  # other replicas wait, then re-read
            await self._renew_locked(forced)

    async def _renew_locked(self, forced: bool) -> None:
        stored = await self.vault.load(self.connection)
        if stored is None:
            raise AuthError(
                f"connection {self.connection} is not authorized yet: "
                f"run `runner connect {self.connection}`"
            )
        if stored.needs_authorization:
            raise AuthError(needs_authorization_message(self.connection, stored.needs_authorization))
        current = self._tokens
        changed = current is None or stored.access_token != current.access_token
        if changed and stored.fresh(self.clock(), self.skew):
            self._install(stored)  # first use, or another process already renewed it
            return
        if not stored.refresh_token:
            why = "was refused (401)" if forced else "has expired"
            raise AuthError(
                f"connection {self.connection}: the access token {why} and the provider gave no "
                f"refresh token: run `runner connect {self.connection}`"
            )
        await self._refresh_with(stored)

    async def _refresh_with(self, stored: TokenSet) -> None:
        try:
            body = await self.endpoint.request("refresh_token", refresh_token=stored.refresh_token)
        except TokenEndpointError as exc:
            if exc.error != "invalid_grant":
                raise  # a network or server problem: this job fails, the next one tries again
            await self._refused(stored, exc)
            return
        tokens = TokenSet.from_response(
            body, self.clock(), list(stored.scopes), previous_refresh=stored.refresh_token
        )
        await self.vault.save(self.connection, tokens)  # a rotated refresh token is saved here
        self._install(tokens)

    async def _refused(self, used: TokenSet, exc: TokenEndpointError) -> None:
        """invalid_grant: the refresh token is revoked, expired or already rotated by another process."""
        latest = await self.vault.load(self.connection)
        if (latest is not None and not latest.needs_authorization
                and latest.refresh_token != used.refresh_token):
            self._install(latest)  # another process rotated it first: theirs is the live one
            return
        reason = f"the provider refused the refresh token: {exc.error}"
        await self.vault.save(self.connection, used.marked(reason))
        raise AuthError(needs_authorization_message(self.connection, reason)) from None
