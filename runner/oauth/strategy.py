"""The core of both OAuth2 `Auth` strategies: one cached token per connection, renewed one at a time.

`build_runtime` makes one strategy per connection and every job of the process shares it, so:

- `apply` sends the cached token while it is fresh and renews it `skew` seconds before it
  expires (proactive refresh), never after a request already failed for it;
- renewal runs under an asyncio.Lock with a re-check inside: when 50 jobs find the token expired
  at once, exactly one token request goes out and the other 49 use its result;
- `refresh`, called by the client once after a 401, renews only when no other job has already
  replaced the token that request carried. A ContextVar remembers, per task, which generation
  of the token `apply` put on the request (each job runs in its own task).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar

from multidict import CIMultiDict

from runner.errors import AuthError
from runner.oauth.tokens import TokenSet
from runner.redact import Redactor

__all__ = ["DEFAULT_SKEW", "OAuth2Auth", "needs_authorization_message"]

DEFAULT_SKEW = 60.0  # seconds before expiry at which a token is renewed

# (id of the strategy, generation of the token) that `apply` last put on a request of this task.
_applied: ContextVar[tuple[int, int] | None] = ContextVar("runner_oauth2_applied", default=None)


def needs_authorization_message(connection: str, reason: str | None = None) -> str:
    why = f" ({reason})" if reason else ""
    return f"connection {connection} needs authorization: run `runner connect {connection}`{why}"


class OAuth2Auth(abc.ABC):
    """Bearer tokens from a token endpoint; subclasses say how a new token is obtained."""

    def __init__(
        self, connection: str, redactor: Redactor, *,
        clock: Callable[[], float] = time.time, skew: float = DEFAULT_SKEW,
    ) -> None:
        self.connection = connection
        self.redactor = redactor
        self.clock = clock
        self.skew = skew
        self._tokens: TokenSet | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> TokenSet | None:
        """The token in use (None before the first request)."""
        return self._tokens

    async def apply(self, headers: CIMultiDict[str], params: list[tuple[str, str]]) -> None:
        tokens, generation = await self.current()
        headers["Authorization"] = f"Bearer {tokens.access_token}"
        _applied.set((id(self), generation))

    async def current(self) -> tuple[TokenSet, int]:
        """A fresh token and its generation, renewing it first when needed."""
        tokens = self._tokens
        if tokens is not None and tokens.fresh(self.clock(), self.skew):
            return tokens, self._generation
        async with self._lock:
            tokens = self._tokens  # re-check: another job may have renewed it while we waited
            if tokens is None or not tokens.fresh(self.clock(), self.skew):
                await self._renew(forced=False)
            return self._usable(), self._generation

    async def refresh(self) -> bool:
        """After a 401: renew once (unless another job just did) and let the client try again."""
        applied = _applied.get()
        async with self._lock:
            if applied is not None and applied[0] == id(self) and applied[1] != self._generation:
                return True  # the token that was refused has been replaced meanwhile
            await self._renew(forced=True)
        return True

    def _usable(self) -> TokenSet:
        if self._tokens is None:  # a subclass's _renew either installs a token or raises
            raise AuthError(f"connection {self.connection}: no OAuth2 token could be obtained")
        return self._tokens

    def _install(self, tokens: TokenSet) -> None:
        """Makes `tokens` the one every job uses; its values join the redactor first."""
        self.redactor.add(tokens.access_token)
        if tokens.refresh_token:
            self.redactor.add(tokens.refresh_token)
        self._tokens = tokens
        self._generation += 1

    @abc.abstractmethod
    async def _renew(self, forced: bool) -> None:
        """Obtains a new token and `_install`s it, or raises AuthError; called under the lock.

        `forced` is True after a 401: the current token was refused even if it looks fresh.
        """
