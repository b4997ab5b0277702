"""Sending requests: one pooled aiohttp session per connection, retries, redirects, egress checks.

`ConnectionClient.send` is the only place a request leaves the process. It applies the
connection's auth, waits for its rate limit before every request that goes out (redirect hops
included), follows redirects for GET and HEAD only (each hop checked against the egress policy,
credentials dropped when the origin differs from the first request's; a 3xx that the request's
`expect` lists is the answer, not followed; only http and https targets are followed), retries
by the pure rules of `runner.http.retry`, and returns an `Exchange` describing everything that
happened. It never raises for a network or HTTP problem: a job must be able to record why a
request failed.

Two things aiohttp does on its own: it re-sends an idempotent request (GET, HEAD, PUT, DELETE,
OPTIONS) once when the connection breaks before any answer, for the sake of stale keep-alive
connections (RFC 9112 allows it; here that is part of one attempt), and each redirect hop gets the whole `timeout` again (a chain is bounded by six of them).
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from runner import __version__
from runner.clock import elapsed_ms, utc_now_iso
from runner.engine.records import AttemptRecord
from runner.errors import EgressError, RunnerError
from runner.http.auth import Auth, StaticAuth
from runner.http.egress import EgressPolicy, egress_error_of, make_connector
from runner.http.failures import classify, describe, is_final, read_limited
from runner.http.ratelimit import RateLimiter
from runner.http.retry import Failure, RetryPolicy, retry_delay
from runner.redact import Redactor

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
FOLLOWED = ("GET", "HEAD")  # other methods get the 3xx itself: re-sending a POST is not ours
FOLLOWED_SCHEMES = ("http", "https")  # `file:`, `ftp:`, ...: never fetched on a server's word
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")
USER_AGENT = f"runner/{__version__}"


class RedirectRefused(EgressError):
    """A redirect the runner will not follow; the message names where from and where to."""


@dataclass
class OutgoingRequest:
    """A fully rendered request, before the connection's auth is applied."""

    method: str
    url: URL
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    data: bytes | None = None
    timeout: float | None = None
    expect: frozenset[int] | None = None  # None: any 2xx

    def accepts(self, status: int) -> bool:
        """Whether `status` is a success for this request (an accepted status is never retried)."""
        return status in self.expect if self.expect else 200 <= status < 300


@dataclass
class Exchange:
    """The outcome of sending one request, retries included (fields describe the last attempt)."""

    request: OutgoingRequest
    sent_url: URL | None = None  # the first hop as sent: query with auth parameters
    sent_headers: CIMultiDict[str] | None = None  # the first hop's headers, auth included
    final_url: URL | None = None  # where the response came from (after redirects)
    redirects: list[URL] = field(default_factory=list)
    status: int | None = None
    reason: str = ""
    headers: CIMultiDictProxy[str] | None = None
    body: bytes = b""
    attempts: list[AttemptRecord] = field(default_factory=list)
    error: str | None = None
    failure: Failure | None = None  # why no response arrived: "timeout" or "connection"
    refused: bool = False  # the egress policy refused the request


@dataclass
class ClientSettings:
    """How one connection reaches its API; built once per connection."""

    name: str
    policy: EgressPolicy = field(default_factory=EgressPolicy)
    ssl_context: ssl.SSLContext | bool = True
    proxy: str | None = None  # userinfo in it is sent as Proxy-Authorization
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limiter: RateLimiter | None = None
    auth: Auth = field(default_factory=StaticAuth)
    resolver: aiohttp.abc.AbstractResolver | None = None
    redactor: Redactor | None = None  # headers holding a known secret never cross origins
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep


class ConnectionClient:
    """One connection's HTTP client: a shared session (pooling, keep-alive) for every job."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the running event loop that will use it."""
        if self._session is None or self._session.closed:
            s = self.settings
            connector = make_connector(
                s.policy, ssl=s.ssl_context, proxied=s.proxy is not None, resolver=s.resolver,
                limit=100, ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, request: OutgoingRequest, retry: RetryPolicy | None = None) -> Exchange:
        """Sends with auth, rate limit, redirects and retries; never raises for HTTP problems."""
        policy = retry or self.settings.retry
        exchange = Exchange(request)
        refreshed, waited, attempt = False, 0.0, 0
        while True:
            attempt += 1
            await self._attempt(exchange, waited)
            if exchange.status == 401 and not refreshed and await self._refresh(exchange):
                refreshed, waited = True, 0.0  # one refresh and one more try, not counted
                attempt -= 1
                continue
            delay = self._delay(policy, exchange, attempt)
            if delay is None:
                return exchange
            waited = delay
            await self.settings.sleep(delay)

    async def _refresh(self, exchange: Exchange) -> bool:
        try:
            return await self.settings.auth.refresh()
        except RunnerError as exc:
            exchange.error = f"the credentials could not be renewed: {exc}"
            return False

    def _delay(self, policy: RetryPolicy, exchange: Exchange, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when this exchange is final."""
        status = exchange.status
        if status is not None and (exchange.error or exchange.request.accepts(status)):
            return None
        if status is None and exchange.failure is None:
            return None  # refused, or an error trying again cannot fix
        retry_after = exchange.headers.get("Retry-After") if exchange.headers is not None else None
        return retry_delay(
            policy, method=exchange.request.method, attempt=attempt,
            status=status, failure=None if status is not None else exchange.failure,
            retry_after=retry_after, now=datetime.now(UTC), rand=random.random(),
        )

    async def _attempt(self, exchange: Exchange, waited: float) -> None:
        started = time.perf_counter()
        record = AttemptRecord(
            started_at=utc_now_iso(), duration_ms=0.0, waited_ms=waited * 1000
        )
        exchange.attempts.append(record)
        exchange.status, exchange.headers, exchange.body = None, None, b""
        exchange.error, exchange.failure, exchange.refused = None, None, False
        exchange.redirects = []
        try:
            await self._follow(exchange)
        except (TimeoutError, RunnerError, aiohttp.ClientError, ValueError, OSError) as exc:
            self._no_answer(exchange, exc)
        record.duration_ms = elapsed_ms(started)
        record.status, record.error = exchange.status, exchange.error

    def _no_answer(self, exchange: Exchange, exc: BaseException) -> None:
        """Records why an attempt got no response (a redirect's 3xx before it is not one)."""
        exchange.status, exchange.headers, exchange.body = None, None, b""
        if isinstance(exc, RedirectRefused):  # its message already says which redirect
            exchange.refused, exchange.error = True, str(exc)
        elif isinstance(exc, EgressError):
            exchange.refused, exchange.error = True, self._after_redirect(exchange, exc)
        elif isinstance(exc, RunnerError):  # e.g. an OAuth2 token that cannot be obtained
            exchange.error = str(exc)
        elif isinstance(exc, asyncio.TimeoutError):
            exchange.failure = "timeout"
            exchange.error = f"timeout: no response within {self._timeout(exchange.request):g}s"
        elif isinstance(exc, aiohttp.ClientError):
            self._client_error(exchange, exc)
        else:  # ValueError, OSError: e.g. a header aiohttp refuses to send
            exchange.error = f"request not sent: {exc}"

    def _client_error(self, exchange: Exchange, exc: aiohttp.ClientError) -> None:
        refusal = egress_error_of(exc)
        if refusal is not None:
            exchange.refused, exchange.error = True, self._after_redirect(exchange, refusal)
            return
        exchange.error = describe(exc)
        exchange.failure = None if is_final(exc) else classify(exc)
        secure = exchange.final_url is not None and exchange.final_url.scheme == "https"
        if secure and isinstance(exc, aiohttp.ServerDisconnectedError):
            # TLS 1.3 servers reject a missing client certificate after the handshake: the
            # client only sees the connection close, so say what it usually means.
            exchange.error += " (over TLS this is how a server refuses a connection without " \
                "the client certificate it requires: see tls.client_cert)"

    def _after_redirect(self, exchange: Exchange, refusal: EgressError) -> str:
        if not exchange.redirects:
            return str(refusal)
        return f"redirect to {exchange.redirects[-1].origin()} {refusal}"

    def _timeout(self, request: OutgoingRequest) -> float:
        return request.timeout if request.timeout is not None else self.settings.timeout

    async def _follow(self, exchange: Exchange) -> None:
        """One attempt: the request and, for GET and HEAD, up to five redirects."""
        request = exchange.request
        auth_headers: CIMultiDict[str] = CIMultiDict()
        auth_params: list[tuple[str, str]] = []
        await self.settings.auth.apply(auth_headers, auth_params)
        url, origin = request.url, request.url.origin()
        left_origin = False  # once a redirect leaves the origin, credentials stay behind
        for hop in range(MAX_REDIRECTS + 1):
            left_origin = left_origin or url.origin() != origin
            if left_origin:  # not even when another origin sends the chain back (A -> B -> A)
                headers, params = self._without_credentials(request.headers), []
            else:
                headers = CIMultiDict(request.headers)
                headers.update(auth_headers)
                if hop == 0:
                    url, params = _with_auth_params(url, request.params, auth_params)
                else:  # a redirect's own query keeps what the server put there
                    params = [(k, v) for k, v in auth_params if k not in url.query]
            if hop == 0:
                exchange.sent_url = url.extend_query(params) if params else url
                exchange.sent_headers = headers
            await self._hop(exchange, url, params, headers)
            location = _location_to_follow(exchange)
            if location is None:
                return
            if hop == MAX_REDIRECTS:
                exchange.error = f"stopped after {MAX_REDIRECTS} redirects (the limit)"
                return
            url = self._redirect_target(url, exchange.sent_url if hop == 0 else url, location)
            exchange.redirects.append(url)

    def _redirect_target(self, current: URL, shown: URL | None, location: str) -> URL:
        """Where a Location header points, resolved against the URL that answered.

        Only http and https are followed: a `file:` or `ftp:` target would have the runner read
        what the server chose. `shown` is the answering URL as sent (auth parameters included),
        redacted here because the message ends up in job records and logs.
        """
        try:
            target = current.join(URL(location.strip()))
        except ValueError as exc:
            raise RunnerError(f"the redirect location is not a valid URL ({exc})") from exc
        if target.scheme.lower() not in FOLLOWED_SCHEMES:
            raise RedirectRefused(
                f"redirect from {self._show(shown or current)} to {self._show(target)} refused: "
                "only http and https redirects are followed"
            )
        return target.with_fragment(None)

    def _show(self, url: URL) -> str:
        redactor = self.settings.redactor
        return str(url) if redactor is None else redactor.redact_url(str(url))

    async def _hop(
        self, exchange: Exchange, url: URL, params: list[tuple[str, str]], headers: CIMultiDict[str]
    ) -> None:
        """One request on the wire: egress check of the URL, rate limit, send, read."""
        self.settings.policy.check_url(url)
        if self.settings.rate_limiter is not None:
            await self.settings.rate_limiter.acquire()
        exchange.final_url = url
        session = self._get_session()
        timeout = _client_timeout(self._timeout(exchange.request))
        async with session.request(
            exchange.request.method, url, params=params or None, headers=headers,
            data=exchange.request.data, allow_redirects=False, proxy=self.settings.proxy,
            timeout=timeout,
        ) as response:
            exchange.status, exchange.reason = response.status, response.reason or ""
            exchange.headers = response.headers
            exchange.body = await read_limited(response)

    def _without_credentials(self, headers: CIMultiDict[str]) -> CIMultiDict[str]:
        """The step's own headers minus credentials: what may follow a redirect to another origin.

        Besides the credential headers by name, any header whose value holds a known secret
        (an API key put in `headers:` rather than `auth:`) stays behind.
        """
        redactor = self.settings.redactor
        kept: CIMultiDict[str] = CIMultiDict()
        for name, value in headers.items():
            if name.lower() in (n.lower() for n in CREDENTIAL_HEADERS):
                continue
            if redactor is not None and redactor.redact_text(value) != value:
                continue
            kept.add(name, value)
        return kept


def _with_auth_params(
    url: URL, params: list[tuple[str, str]], auth_params: list[tuple[str, str]]
) -> tuple[URL, list[tuple[str, str]]]:
    """The URL and parameters to send: the connection's auth parameters replace any of the same
    name, in the step's `params` or already in the URL (a `next_page` link echoing the key), so
    each is sent once, with the connection's value."""
    if not auth_params:
        return url, params
    names = {name for name, _ in auth_params}
    if any(name in url.query for name in names):
        url = url.with_query([(k, v) for k, v in url.query.items() if k not in names])
    return url, [(k, v) for k, v in params if k not in names] + auth_params


@functools.lru_cache(maxsize=64)
def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One (immutable) timeout object per value rather than one per request."""
    return aiohttp.ClientTimeout(total=seconds)


def _location_to_follow(exchange: Exchange) -> str | None:
    """The Location of a redirect to follow, or None when the response just read is the answer.

    A 3xx that `expect` lists is the answer: the step asked for the redirect itself (to read
    its Location, say), and following it would make its own expectation fail.
    """
    status, request = exchange.status, exchange.request
    location = exchange.headers.get("Location") if exchange.headers else None
    if status not in REDIRECTS or request.method not in FOLLOWED or not location:
        return None
    return None if request.expect and status in request.expect else location
