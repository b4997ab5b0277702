"""Who may read the job history (pages and jobs API) and change it (replays), and how we tell.

Three modes, from the settings:

- **token**: `RUNNER_API_TOKEN` is set. The API wants `Authorization: Bearer <token>`; the pages
  want a session cookie, set by logging in with the token (HttpOnly, SameSite=Strict, expiring).
  The cookie is signed with a key derived from the token, so every replica accepts it and
  changing the token logs everyone out.
- **local**: no token, and the daemon listens on a loopback address only. Whoever can reach the
  loopback interface can read anyway, so there is no login; what is still refused is a web page
  elsewhere using the browser as a proxy: a `Host` that is not a loopback name (DNS rebinding)
  and a cross-site POST.
- **off**: no token and a non-loopback address: the pages are not served and the API answers
  404, because anyone on the network could otherwise read every job.

Every POST from a page also carries a CSRF token bound to the session (or, in local mode, to
this process), checked in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web

Mode = Literal["token", "local", "off"]
SESSION_COOKIE = "runner_session"
LOGIN_COOKIE = "runner_login"  # the login form's own CSRF value (double submit)
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True for `127.0.0.1`, `::1`, `localhost` and the rest of 127/8: not `0.0.0.0` or ``."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def access_mode(api_token: str | None, host: str) -> Mode:
    if api_token:
        return "token"
    return "local" if is_loopback(host) else "off"


def why_off(host: str) -> str:
    """What `serve` says at start when the pages and the API are off."""
    return (f"the web pages and the jobs API are off: the daemon listens on {host or '*'}, not "
            "a loopback address, and RUNNER_API_TOKEN is not set (anyone on the network could "
            "read every job); set RUNNER_API_TOKEN to turn them on with a login")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Access:
    """The policy of one daemon process (see the module's docstring)."""

    mode: Mode
    token: str | None
    session_ttl: float
    _key: bytes = field(init=False, repr=False)
    _revoked: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.token:
            self._key = hmac.new(self.token.encode(), b"runner-ui-session-1", "sha256").digest()
        else:
            self._key = secrets.token_bytes(32)

    @classmethod
    def from_settings(cls, api_token: str | None, host: str, session_ttl: float) -> Access:
        return cls(access_mode(api_token, host), api_token, session_ttl)

    # -- the API ----------------------------------------------------------------------------------
    def api_refusal(self, request: web.Request) -> tuple[int, str, str] | None:
        """`(status, code, message)` when an API call may not go on, else None."""
        if self.mode == "off":
            return 404, "api-disabled", ("the jobs API is off: set RUNNER_API_TOKEN (or listen "
                                         "on a loopback address)")
        if self.mode == "local":
            return self.local_refusal(request)
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        # The scheme's case does not matter (RFC 9110, 11.1): `bearer` is Bearer.
        if scheme.lower() != "bearer" or not self.token_matches(given.strip()):
            return 401, "unauthorized", "send Authorization: Bearer <RUNNER_API_TOKEN>"
        return None

    def local_refusal(self, request: web.Request) -> tuple[int, str, str] | None:
        """Local mode: a request naming another host, or a POST from another site, is refused."""
        if not is_loopback(request.url.host or ""):
            return 403, "forbidden-host", ("without RUNNER_API_TOKEN only requests to a loopback "
                                           "name (localhost, 127.0.0.1) are answered")
        if request.method == "POST" and not self.same_origin(request):
            return 403, "cross-site", "a POST from another site is refused"
        return None

    def token_matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), self.token.encode())

    # -- sessions (token mode) --------------------------------------------------------------------
    def new_session(self) -> str:
        """A cookie value: expiry, a random id, and a signature over both."""
        expires = int(time.time() + self.session_ttl)
        body = f"{expires}.{_b64(secrets.token_bytes(16))}"
        return f"{body}.{self._sign('session', body)}"

    def session_id(self, request: web.Request) -> str | None:
        """The id of the request's valid session; in local mode, always "local"."""
        if self.mode == "local":
            return "local"
        value = request.cookies.get(SESSION_COOKIE, "")
        body, _, signature = value.rpartition(".")
        expires, _, session = body.partition(".")
        if not (expires.isdigit() and session and signature):
            return None
        if not hmac.compare_digest(signature, self._sign("session", body)):
            return None
        if int(expires) < time.time() or session in self._revoked:
            return None
        return session

    def revoke(self, request: web.Request) -> None:
        """Logout: the session stops working here at once (its cookie is cleared too)."""
        session = self.session_id(request)
        if session is None or self.mode != "token":
            return
        now = time.time()
        self._revoked = {s: t for s, t in self._revoked.items() if t > now}
        self._revoked[session] = now + self.session_ttl

    @staticmethod
    def new_login_nonce() -> str:
        """The login form's CSRF value, also set as a cookie: a POST must carry both."""
        return _b64(secrets.token_bytes(16))

    @staticmethod
    def login_nonce_ok(cookie: str, given: str) -> bool:
        return bool(cookie) and hmac.compare_digest(cookie.encode(), given.encode())

    # -- CSRF -------------------------------------------------------------------------------------
    def csrf_token(self, session: str) -> str:
        return self._sign("csrf", session)

    def csrf_ok(self, session: str | None, given: str) -> bool:
        return session is not None and hmac.compare_digest(given.encode(),
                                                           self.csrf_token(session).encode())

    @staticmethod
    def same_origin(request: web.Request) -> bool:
        """False for a request a browser marks as coming from another site (Origin or
        Sec-Fetch-Site); True when neither header is sent (curl, older browsers)."""
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        # The host only: behind a proxy that ends TLS the page is https, the request here http.
        return urlsplit(origin).netloc.lower() == request.host.lower()

    def _sign(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).digest())
