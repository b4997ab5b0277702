"""Sending requests: one pooled aiohttp session per connection, retries, redirects, egress checks.

`ConnectionClient.send` is the only place a request leaves the process. It applies the
connection's auth, waits for its rate limit, follows redirects for GET and HEAD only (each hop
checked against the egress policy, credentials dropped when the origin changes), retries by the
pure rules of `runner.http.retry`, and returns an `Exchange` describing everything that happened.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from runner.engine.records import AttemptRecord
from runner.errors import EgressError
from runner.http.auth import Auth, StaticAuth
from runner.http.egress import EgressPolicy, egress_error_of, make_connector
from runner.http.ratelimit import RateLimiter
from runner.http.retry import Failure, RetryPolicy, retry_delay

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 50 * 1024 * 1024
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")


@dataclass
class OutgoingRequest:
    """A fully rendered request, before the connection's auth is applied."""

    method: str
    url: URL
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    data: bytes | None = None
    timeout: float | None = None


@dataclass
class Exchange:
    """The outcome of sending one request, retries included."""

    request: OutgoingRequest
    sent_url: URL | None = None
    sent_headers: CIMultiDict[str] | None = None
    status: int | None = None
    reason: str = ""
    headers: CIMultiDictProxy[str] | None = None
    body: bytes = b""
    attempts: list[AttemptRecord] = field(default_factory=list)
    error: str | None = None
    failure: Failure | None = None  # why no response arrived: "timeout" or "connection"
    refused: bool = False

    @property
    def responded(self) -> bool:
        return self.status is not None


@dataclass
class ClientSettings:
    """How one connection reaches its API; built once per connection."""

    name: str
    policy: EgressPolicy = field(default_factory=EgressPolicy)
    ssl_context: ssl.SSLContext | bool = True
    proxy: str | None = None
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limiter: RateLimiter | None = None
    auth: Auth = field(default_factory=StaticAuth)
    resolver: aiohttp.abc.AbstractResolver | None = None


class ConnectionClient:
    """One connection's HTTP client: a shared session (pooling, keep-alive) for every job."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self.settings
            connector = make_connector(
                s.policy, ssl=s.ssl_context, proxied=s.proxy is not None, resolver=s.resolver,
                limit=100, ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, request: OutgoingRequest, retry: RetryPolicy | None = None) -> Exchange:
        """Sends with auth, rate limit, redirects and retries; never raises for HTTP problems."""
        policy = retry or self.settings.retry
        exchange = Exchange(request)
        refreshed = False
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            await self._attempt(exchange, waited)
            if exchange.status == 401 and not refreshed and await self.settings.auth.refresh():
                refreshed, waited = True, 0.0
                attempt -= 1
                continue
            delay = self._delay(policy, exchange, attempt)
            if delay is None:
                return exchange
            waited = delay
            await asyncio.sleep(delay)

    def _delay(self, policy: RetryPolicy, exchange: Exchange, attempt: int) -> float | None:
        if exchange.refused or attempt >= policy.attempts:
            return None
        retry_after = exchange.headers.get("Retry-After") if exchange.headers is not None else None
        return retry_delay(
            policy, method=exchange.request.method, attempt=attempt,
            status=exchange.status, failure=exchange.failure, retry_after=retry_after,
            now=datetime.now(UTC), rand=random.random(),
        )

    async def _attempt(self, exchange: Exchange, waited: float) -> None:
        started = time.perf_counter()
        record = AttemptRecord(
            started_at=datetime.now(UTC).isoformat(), duration_ms=0.0, waited_ms=waited * 1000
        )
        exchange.attempts.append(record)
        exchange.status, exchange.headers, exchange.body = None, None, b""
        exchange.error, exchange.failure = None, None
        try:
            if self.settings.rate_limiter is not None:
                await self.settings.rate_limiter.acquire()
            await self._follow(exchange)
        except EgressError as exc:
            exchange.refused, exchange.error = True, str(exc)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            exchange.failure = "timeout"
            exchange.error = f"timeout: no response within {self._timeout(exchange.request):g}s"
        except aiohttp.ClientError as exc:
            refusal = egress_error_of(exc)
            if refusal is not None:
                exchange.refused, exchange.error = True, str(refusal)
            else:
                exchange.failure, exchange.error = _classify(exc), _describe(exc)
        record.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        record.status, record.error = exchange.status, exchange.error

    def _timeout(self, request: OutgoingRequest) -> float:
        return request.timeout if request.timeout is not None else self.settings.timeout

    async def _follow(self, exchange: Exchange) -> None:
        """One attempt: the request and, for GET and HEAD, up to five redirects."""
        request = exchange.request
        auth_headers: CIMultiDict[str] = CIMultiDict()
        auth_params: list[tuple[str, str]] = []
        await self.settings.auth.apply(auth_headers, auth_params)
        url, params = request.url, [*request.params, *auth_params]
        headers = CIMultiDict(request.headers)
        headers.update(auth_headers)
        origin = url.origin()
        for _hop in range(MAX_REDIRECTS + 1):
            self.settings.policy.check_url(url)
            exchange.sent_url = url.update_query(params) if params else url
            exchange.sent_headers = headers
            await self._once(exchange, url, params, headers)
            location = exchange.headers.get("Location") if exchange.headers else None
            if exchange.status not in REDIRECTS or request.method not in ("GET", "HEAD") or not location:
                return
            url = url.join(URL(location))
            if url.origin() == origin:
                params = list(auth_params)
            else:  # credentials never follow a redirect to another origin
                headers, params = _without_credentials(request.headers), []
        exchange.error = f"more than {MAX_REDIRECTS} redirects"

    async def _once(
        self, exchange: Exchange, url: URL, params: list[tuple[str, str]], headers: CIMultiDict[str]
    ) -> None:
        session = self._get_session()
        timeout = aiohttp.ClientTimeout(total=self._timeout(exchange.request))
        async with session.request(
            exchange.request.method, url, params=params or None, headers=headers,
            data=exchange.request.data,
            allow_redirects=False, proxy=self.settings.proxy, timeout=timeout,
        ) as response:
            exchange.status, exchange.reason = response.status, response.reason or ""
            exchange.headers = response.headers
            exchange.body = await _read_limited(response)


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(65536):
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise aiohttp.ClientPayloadError(
                f"response larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _without_credentials(headers: CIMultiDict[str]) -> CIMultiDict[str]:
    """The step's own headers minus credentials: what may follow a redirect to another origin."""
    kept = CIMultiDict(headers)
    for name in CREDENTIAL_HEADERS:
        kept.popall(name, None)
    return kept


def _classify(exc: aiohttp.ClientError) -> Failure:
    """"connection" when nothing can have reached the server, else "timeout" (maybe it did)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection"
    return "timeout"


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"connection failed: TLS certificate not accepted ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"connection failed: TLS error ({exc})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed: {exc.os_error.strerror or exc.os_error} ({exc.host}:{exc.port})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection failed: the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection failed: {exc.strerror or exc}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"response failed: {exc}"
    return f"connection failed: {type(exc).__name__}: {exc}"
