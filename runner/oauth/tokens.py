"""OAuth2 tokens at rest: the TokenSet record, its encryption, and the vault over the job store.

Blobs are encrypted with AES-256-GCM under a key derived from RUNNER_SECRET_KEY with HKDF-SHA256;
the connection's name is the associated data, so a blob copied to another connection's row does
not decrypt. Blob layout: one version byte, a 12-byte random nonce, then ciphertext and tag.
Nothing here ever formats a token into a message or a repr.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from runner.errors import AuthError, SecretError
from runner.secrets import SECRET_KEY_NAME, SecretSource
from runner.store.base import Store

__all__ = ["PENDING_SUFFIX", "TokenCipher", "TokenSet", "TokenVault", "missing_key_message"]

_VERSION = b"\x01"
_NONCE = 12
_SALT = b"runner/oauth2-token-store"
_INFO = b"runner oauth2 tokens v1"
PENDING_SUFFIX = "#pending"  # connection names never hold '#': no row of a real connection


def missing_key_message() -> str:
    return (
        f"{SECRET_KEY_NAME} is not set: it encrypts the OAuth2 tokens the runner stores. Set it to "
        "any string of 32 or more characters, as an environment variable or as the file "
        f"{SECRET_KEY_NAME} in $RUNNER_SECRETS_DIR, and use the same key wherever this store is used"
    )


@dataclass(frozen=True, repr=False)
class TokenSet:
    """What a token endpoint granted, as stored; `needs_authorization` says why it is unusable."""

    access_token: str
    token_type: str = "Bearer"
    refresh_token: str | None = None
    expires_at: float | None = None  # seconds since the epoch; None: no expiry announced
    scopes: tuple[str, ...] = ()
    obtained_at: float = 0.0
    needs_authorization: str | None = None

    def __repr__(self) -> str:  # never the tokens themselves
        return f"<TokenSet expires_at={self.expires_at} scopes={' '.join(self.scopes)!r}>"

    def fresh(self, now: float, skew: float) -> bool:
        """Usable for a request sent at `now`, renewing `skew` seconds early (at most half its life)."""
        if self.expires_at is None:
            return True
        lifetime = max(self.expires_at - self.obtained_at, 0.0)
        return now < self.expires_at - min(skew, lifetime / 2)

    def marked(self, reason: str) -> TokenSet:
        return replace(self, needs_authorization=reason)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["scopes"] = list(self.scopes)
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> TokenSet:
        data = json.loads(raw)
        data["scopes"] = tuple(data.get("scopes") or ())
        return cls(**data)

    @classmethod
    def from_response(
        cls, body: dict[str, Any], now: float, requested: list[str],
        previous_refresh: str | None = None,
    ) -> TokenSet:
        """A token response (RFC 6749 section 5.1); a refresh token not sent again is kept."""
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError("the token endpoint's answer has no access_token")
        kind = str(body.get("token_type") or "Bearer")
        if kind.lower() != "bearer":
            raise AuthError(f"the token endpoint granted a {kind!r} token; only Bearer is supported")
        refresh = body.get("refresh_token")
        return cls(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh,
            expires_at=_expires_at(body.get("expires_in"), now),
            scopes=_scopes(body.get("scope"), requested),
            obtained_at=now,
        )


def _expires_at(value: Any, now: float) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None  # absent or unreadable: the token is used until a 401 says otherwise
    return now + seconds if seconds > 0 else None


def _scopes(value: Any, requested: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return tuple(requested)  # RFC 6749 5.1: no scope means the requested scope was granted


class TokenCipher:
    """AES-GCM with a key derived from RUNNER_SECRET_KEY; the connection name is bound in."""

    def __init__(self, secret_key: bytes) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO)
        self._aead = AESGCM(hkdf.derive(secret_key))

    def seal(self, connection: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _aad(connection))

    def open(self, connection: str, blob: bytes) -> bytes:
        name = connection.removesuffix(PENDING_SUFFIX)
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE + 16:
            raise AuthError(f"the stored token of connection {name} is not in a format this runner reads")
        try:
            return self._aead.decrypt(blob[1:1 + _NONCE], blob[1 + _NONCE:], _aad(connection))
        except InvalidTag:
            raise AuthError(
                f"the stored token of connection {name} cannot be decrypted with this "
                f"{SECRET_KEY_NAME} (it was stored with another key): use that key, or run "
                f"`runner connect {name}` to authorize again"
            ) from None


def _aad(connection: str) -> bytes:
    return b"runner-token:" + connection.encode("utf-8")


class TokenVault:
    """Encrypted token records in the store; the key is read, and a lazy store opened, when needed.

    `store` is an open store, or an async function returning one (so a command whose documents
    never need a stored token never creates a store).
    """

    def __init__(self, store: Store | Callable[[], Awaitable[Store]], secrets: SecretSource) -> None:
        self._store_source = store
        self.secrets = secrets
        self._cipher: TokenCipher | None = None

    async def store(self) -> Store:
        source = self._store_source
        return source if isinstance(source, Store) else await source()

    def cipher(self) -> TokenCipher:
        """The cipher, or SecretError with the fix when RUNNER_SECRET_KEY is missing or too short."""
        if self._cipher is None:
            key = self.secrets.secret_key()
            if key is None:
                raise SecretError(missing_key_message())
            self._cipher = TokenCipher(key)
        return self._cipher

    @asynccontextmanager
    async def locked(self, connection: str) -> AsyncIterator[None]:
        """The store's token lock: one process (replica) at a time renews a connection's token."""
        async with (await self.store()).token_lock(connection):
            yield

    async def has_blob(self, connection: str) -> bool:
        return await (await self.store()).get_token(connection) is not None

    async def load(self, connection: str) -> TokenSet | None:
        raw = await self._get(connection)
        return None if raw is None else TokenSet.from_json(raw)

    async def save(self, connection: str, tokens: TokenSet) -> None:
        await self._put(connection, tokens.to_json())

    async def delete(self, connection: str) -> None:
        await (await self.store()).delete_token(connection)

    async def load_pending(self, connection: str) -> dict[str, Any] | None:
        """An authorization started with `runner connect --via-server`, waiting for its callback."""
        raw = await self._get(connection + PENDING_SUFFIX)
        return None if raw is None else dict(json.loads(raw))

    async def save_pending(self, connection: str, flow: dict[str, Any]) -> None:
        await self._put(connection + PENDING_SUFFIX, json.dumps(flow).encode("utf-8"))

    async def delete_pending(self, connection: str) -> None:
        await (await self.store()).delete_token(connection + PENDING_SUFFIX)

    async def _get(self, key: str) -> bytes | None:
        blob = await (await self.store()).get_token(key)
        return None if blob is None else self.cipher().open(key, blob)

    async def _put(self, key: str, plaintext: bytes) -> None:
        sealed = self.cipher().seal(key, plaintext)  # the key is checked before the store opens
        await (await self.store()).put_token(key, sealed)
