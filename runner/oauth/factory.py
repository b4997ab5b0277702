"""`make_auth_factory(store, secrets)`: what `build_runtime` calls to build a connection's OAuth2 auth."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from runner.errors import AuthError
from runner.http.auth import Auth
from runner.http.client import ClientSettings
from runner.oauth.authorization_code import AuthorizationCodeAuth
from runner.oauth.client_credentials import ClientCredentialsAuth
from runner.oauth.endpoint import TokenEndpoint
from runner.oauth.strategy import DEFAULT_SKEW
from runner.oauth.tokens import TokenVault
from runner.recipe.models import DEFAULT_REDIRECT_URI
from runner.secrets import SecretSource
from runner.store.base import Store

if TYPE_CHECKING:
    from runner.engine.runtime import AuthFactory, Runtime
    from runner.recipe.compile import Connection

__all__ = ["make_auth_factory"]


def make_auth_factory(
    store: Store | Callable[[], Awaitable[Store]], secrets: SecretSource, *,
    clock: Callable[[], float] | None = None, skew: float = DEFAULT_SKEW,
) -> AuthFactory:
    """A factory for `build_runtime(..., auth_factory=...)`; `store` may be opened lazily.

    Strategies are cheap to build and touch neither the store nor the network until a request
    needs a token, so the factory may be called before the store is open.
    """
    vault = TokenVault(store, secrets)

    def factory(connection: Connection, fields: dict[str, Any], runtime: Runtime) -> Auth:
        endpoint = _endpoint(connection.name, fields, runtime)
        kind = fields["type"]
        scopes = _scopes(fields.get("scopes"))
        if kind == "oauth2_client_credentials":
            return ClientCredentialsAuth(
                endpoint, runtime.redactor, scopes=scopes, audience=_text(fields.get("audience")),
                clock=clock, skew=skew,
            )
        if kind == "oauth2_authorization_code":
            return AuthorizationCodeAuth(
                endpoint, vault, runtime.redactor,
                authorization_url=_required(fields, "authorization_url", connection.name),
                redirect_uri=_text(fields.get("redirect_uri")) or DEFAULT_REDIRECT_URI,
                scopes=scopes, pkce=fields.get("pkce") is not False,
                auth_params=dict(fields.get("auth_params") or {}), clock=clock, skew=skew,
            )
        raise AuthError(f"connection {connection.name}: auth type {kind} is not OAuth2")

    return factory


def _endpoint(name: str, fields: dict[str, Any], runtime: Runtime) -> TokenEndpoint:
    def settings() -> ClientSettings:
        # Looked up when a token is requested: the connection's client is built after its auth.
        return runtime.connections[name].client.settings

    return TokenEndpoint(
        connection=name,
        url=_required(fields, "token_url", name),
        client_id=_required(fields, "client_id", name),
        client_secret=_text(fields.get("client_secret")),
        method=_text(fields.get("token_auth")) or "client_secret_post",
        settings=settings,
        redactor=runtime.redactor,
    )


def _required(fields: dict[str, Any], key: str, connection: str) -> str:
    value = _text(fields.get(key))
    if not value:
        raise AuthError(f"connection {connection}: auth.{key} rendered empty")
    return value


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _scopes(value: Any) -> list[str]:
    """Scopes as written (a list) or rendered from one template (a space-separated string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]
