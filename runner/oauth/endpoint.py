"""Token requests: Authlib encodes the grant and the client authentication, our client sends it.

Every token request goes through a `ConnectionClient` built from the connection's own settings
(egress policy, TLS, proxy, resolver, timeout) with no auth of its own, so the token endpoint is
held to exactly the rules of the API it unlocks. The client lives for one request: tokens are
requested rarely, and a short-lived session leaves nothing to close when documents reload.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from multidict import CIMultiDict
from yarl import URL

from runner.errors import AuthError
from runner.http.auth import StaticAuth
from runner.http.client import ClientSettings, ConnectionClient, Exchange, OutgoingRequest
from runner.http.retry import RetryPolicy
from runner.redact import Redactor

__all__ = ["TokenEndpoint", "TokenEndpointError"]

log = logging.getLogger(__name__)

# Only answers that mean "not now", and failures where nothing reached the server: a code or a
# rotated refresh token is single-use, so a request that may have arrived is not sent twice.
TOKEN_RETRY = RetryPolicy(attempts=3, backoff=0.5, max_backoff=5.0,
                          on=frozenset({"429", "503", "connection"}))
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


class TokenEndpointError(AuthError):
    """The token endpoint refused or could not be reached; `error` is the OAuth2 error code."""

    def __init__(self, message: str, error: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


@dataclass
class TokenEndpoint:
    """One connection's token endpoint and client credentials."""

    connection: str
    url: str
    client_id: str
    client_secret: str | None
    method: str  # client_secret_post | client_secret_basic
    settings: Callable[[], ClientSettings]  # the connection's client settings, read when sending
    redactor: Redactor

    def __post_init__(self) -> None:
        if self.client_secret:
            self.redactor.add(self.client_secret)
            self.redactor.add_basic_auth(self.client_id, self.client_secret)

    async def request(self, grant_type: str, **params: Any) -> dict[str, Any]:
        """POSTs one grant and returns the token response, or raises TokenEndpointError."""
        body = prepare_token_request(grant_type, **params)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        method = self.method if self.client_secret else "none"  # a public client sends its id only
        uri, headers, body = ClientAuth(self.client_id, self.client_secret, method).prepare(
            "POST", self.url, headers, body
        )
        client = ConnectionClient(replace(
            self.settings(), name=f"{self.connection} (token endpoint)", auth=StaticAuth(),
            rate_limiter=None, retry=TOKEN_RETRY,
        ))
        try:
            exchange = await client.send(OutgoingRequest(
                "POST", URL(uri, encoded=False), headers=CIMultiDict(headers), data=body.encode(),
            ))
        finally:
            await client.close()
        return self._answer(grant_type, exchange)

    def _answer(self, grant_type: str, exchange: Exchange) -> dict[str, Any]:
        where = f"connection {self.connection}: token endpoint {self.redactor.redact_url(self.url)}"
        if exchange.status is None:
            raise TokenEndpointError(f"{where} could not be reached: {exchange.error}")
        data = _parse(exchange.body)
        if exchange.status == 200 and isinstance(data.get("access_token"), str):
            self._remember(data)
            log.info("obtained an OAuth2 token", extra={
                "connection": self.connection, "grant_type": grant_type,
                "expires_in": data.get("expires_in"),
            })
            return data
        # Redacted before they are cut: a secret across the cut would leave its start behind.
        redact = self.redactor.redact_text
        error = _clean(redact(data["error"]) if isinstance(data.get("error"), str) else None) or None
        detail = _clean(redact(data["error_description"])
                        if isinstance(data.get("error_description"), str) else None)
        if error is None:
            text = redact(exchange.body[: 200 + 4096].decode("utf-8", "replace"))[:200]
            detail = "the answer is not a token response" + (f": {_clean(text)}" if text else "")
        reason = ": ".join(p for p in (error, detail) if p)
        message = f"{where} answered {exchange.status} to the {grant_type} grant: {reason}"
        raise TokenEndpointError(self.redactor.redact_text(message), error, exchange.status)

    def _remember(self, data: dict[str, Any]) -> None:
        """Tokens join the redactor at once: no log, record or error may show them."""
        for key in ("access_token", "refresh_token", "id_token"):
            value = data.get(key)
            if isinstance(value, str):
                self.redactor.add(value)


def _parse(body: bytes) -> dict[str, Any]:
    """A JSON object, or a form-encoded answer (some providers ignore Accept)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return dict(parse_qsl(text)) if "=" in text and "<" not in text else {}
    return data if isinstance(data, dict) else {}


def _clean(value: Any) -> str:
    """Provider text, printable and short: it ends up in terminals and job records."""
    if not isinstance(value, str):
        return ""
    return _PRINTABLE.sub(" ", value)[:300].strip()
