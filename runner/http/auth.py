"""Connection authentication: how each auth type changes an outgoing request.

Every strategy is built once per connection from its rendered fields. `apply` adds credentials to
one request; `refresh` is called once after a 401 and says whether trying again can help (only
token-based schemes can do anything about a 401). OAuth2 strategies plug in here too.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from multidict import CIMultiDict

from runner.errors import AuthError
from runner.redact import Redactor


class Auth(Protocol):
    """What a connection's client needs from an auth scheme."""

    async def apply(self, headers: CIMultiDict[str], params: list[tuple[str, str]]) -> None: ...

    async def refresh(self) -> bool: ...


class StaticAuth:
    """Credentials that never change: basic, header, query and custom auth (and none)."""

    def __init__(
        self,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.headers = dict(headers or {})
        self.params = [(k, v) for k, v in (params or {}).items()]

    async def apply(self, headers: CIMultiDict[str], params: list[tuple[str, str]]) -> None:
        for name, value in self.headers.items():
            headers[name] = value
        params.extend(self.params)

    async def refresh(self) -> bool:
        return False


def basic_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def build_static_auth(fields: dict[str, Any], redactor: Redactor) -> StaticAuth:
    """The strategy for a non-OAuth2 auth block whose templates have been rendered."""
    kind = fields["type"]
    headers: dict[str, str] = {k: _text(v) for k, v in (fields.get("headers") or {}).items()}
    params: dict[str, str] = {k: _text(v) for k, v in (fields.get("params") or {}).items()}
    for value in (*headers.values(), *params.values()):
        redactor.add(value)
    if kind in ("basic", "custom") and fields.get("username") is not None:
        username, password = _text(fields.get("username")), _text(fields.get("password"))
        redactor.add_basic_auth(username, password)
        headers["Authorization"] = basic_header(username, password)
    if kind == "none":
        return StaticAuth()
    if kind in ("basic", "header", "query", "custom"):
        return StaticAuth(headers, params)
    raise AuthError(f"auth type {kind} has no static strategy")
