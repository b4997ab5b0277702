"""Webhook request verification: pure checks of a request's headers and body against `auth:`.

Nothing here does I/O or reads the clock: the daemon passes the raw body, the (case-insensitive)
headers and `now` (Unix seconds), so every scheme is testable with fixed inputs. A request that
fails raises `VerificationError`, whose message says what was wrong (missing header, malformed
header, bad signature, timestamp outside tolerance) but never a secret or an expected signature.

Schemes (`WebhookAuth.type`):

- `hmac`: header `header` holds `prefix` + HMAC(`secret`, body) with `algorithm` (sha1 | sha256 |
  sha512), encoded with `encoding` (hex, any case | base64, standard or URL-safe, padding optional).
  The prefix is matched exactly (case-sensitive).
- `basic`: `Authorization: Basic base64(username:password)`; the scheme word is case-insensitive.
  Fields `username` and `password`; an empty `password` falls back to `secret`, so
  `secret: "{{ secrets.X }}"` works as for the other schemes. No password configured refuses all.
- `header`: header `header` must equal `value` exactly (a shared token); an empty `value` falls back
  to `secret`. Nothing configured refuses all.
- `github`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
- `stripe`: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...][,v0=...]`; HMAC-SHA256 of `<t>.<body>`;
  any v1 matching passes (secret rotation); v0 and unknown items are ignored.
- `slack`: `X-Slack-Request-Timestamp: <ts>` and `X-Slack-Signature: v0=<hex>` of
  HMAC-SHA256 over `v0:<ts>:<body>`.
- `standard_webhooks`: `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated
  `v1,<base64>` entries; other versions are ignored) over `<id>.<timestamp>.<body>`. As in the
  reference `standardwebhooks` library, the secret is base64 whether or not it carries the
  `whsec_` prefix (the prefix is stripped, then the rest decoded); an undecodable secret
  refuses all. Svix's own names (`svix-id`, `svix-timestamp`, `svix-signature`) are read when
  `webhook-id` is absent.

Timestamped schemes (stripe, slack, standard_webhooks) refuse timestamps more than `tolerance`
seconds in the past or in the future (replay window); a timestamp must be integer Unix seconds.
Every signature and credential comparison uses `hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from runner.errors import AuthError

__all__ = [
    "ALGORITHMS",
    "ENCODINGS",
    "SCHEMES",
    "VerificationError",
    "WebhookAuth",
    "verify_request",
]

SCHEMES = ("hmac", "basic", "header", "github", "stripe", "slack", "standard_webhooks")
ALGORITHMS = ("sha1", "sha256", "sha512")
ENCODINGS = ("hex", "base64")
_MAX_TIMESTAMP_DIGITS = 15


class VerificationError(AuthError):
    """The webhook request failed verification."""


@dataclass(frozen=True)
class WebhookAuth:
    """A webhook trigger's `auth:` block with secrets rendered; built once when recipes load.

    Secret-bearing fields are left out of `repr` so that logging the object leaks nothing.
    Raises `ValueError` for a configuration the recipe models should already have refused.
    """

    type: str
    secret: str = field(default="", repr=False)
    header: str | None = None
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    value: str = field(default="", repr=False)
    tolerance: float = 300.0

    def __post_init__(self) -> None:
        problem = _config_problem(self)
        if problem is not None:
            raise ValueError(problem)


def verify_request(
    auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float
) -> None:
    """Accept the request silently or raise `VerificationError` saying what was wrong."""
    _VERIFIERS[auth.type](auth, headers, body, now)


def _config_problem(auth: WebhookAuth) -> str | None:
    if auth.type not in SCHEMES:
        return f"unknown webhook auth type {auth.type!r}; expected one of {', '.join(SCHEMES)}"
    if auth.algorithm not in ALGORITHMS:
        return f"unknown algorithm {auth.algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
    if auth.encoding not in ENCODINGS:
        return f"unknown encoding {auth.encoding!r}; expected one of {', '.join(ENCODINGS)}"
    if auth.type in ("hmac", "header") and not auth.header:
        return f"webhook auth type {auth.type} needs a header name"
    if not (math.isfinite(auth.tolerance) and auth.tolerance >= 0):
        return "tolerance must be a non-negative number of seconds"
    return None


# --- schemes -------------------------------------------------------------------------------


def _verify_hmac(auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float) -> None:
    assert auth.header is not None  # guaranteed by WebhookAuth.__post_init__
    _check_prefixed_mac(
        _mac(_secret(auth), body, auth.algorithm),
        headers, auth.header, auth.prefix, auth.encoding,
    )


def _verify_github(auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float) -> None:
    expected = _mac(_secret(auth), body, "sha256")
    _check_prefixed_mac(expected, headers, "X-Hub-Signature-256", "sha256=", "hex")


def _verify_basic(auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float) -> None:
    expected_password = _bytes(auth.password or auth.secret)
    if not expected_password:
        raise VerificationError("no password is configured for basic auth")
    scheme, _, token = _header(headers, "Authorization").strip().partition(" ")
    if scheme.lower() != "basic":
        raise VerificationError("header Authorization does not hold Basic credentials")
    decoded = _from_base64(token.strip())
    if decoded is None or b":" not in decoded:
        raise VerificationError("header Authorization holds malformed Basic credentials")
    username, _, password = decoded.partition(b":")
    # `&`, not `and`: both comparisons always run, so timing does not tell which one failed.
    ok = hmac.compare_digest(username, _bytes(auth.username)) & hmac.compare_digest(
        password, expected_password
    )
    if not ok:
        raise VerificationError("wrong username or password in header Authorization")


def _verify_header(auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float) -> None:
    assert auth.header is not None  # guaranteed by WebhookAuth.__post_init__
    expected = _bytes(auth.value or auth.secret)
    if not expected:
        raise VerificationError(f"no expected value is configured for header {auth.header}")
    if not hmac.compare_digest(_bytes(_header(headers, auth.header)), expected):
        raise VerificationError(f"wrong value in header {auth.header}")


def _verify_stripe(auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float) -> None:
    name = "Stripe-Signature"
    timestamp: str | None = None
    signatures: list[str] = []
    for item in _header(headers, name).split(","):
        key, _, text = item.strip().partition("=")
        if key == "t" and timestamp is None:
            timestamp = text
        elif key == "v1":
            signatures.append(text)
    if timestamp is None:
        raise VerificationError(f"header {name} has no timestamp (t=)")
    if not signatures:
        raise VerificationError(f"header {name} has no v1 signature")
    _check_timestamp(timestamp, f"header {name}", now, auth.tolerance)
    expected = _mac(_secret(auth), timestamp.encode() + b"." + body, "sha256")
    _check_any(expected, (_from_hex(s) for s in signatures), name)


def _verify_slack(auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float) -> None:
    ts_name, sig_name = "X-Slack-Request-Timestamp", "X-Slack-Signature"
    timestamp = _header(headers, ts_name)
    _check_timestamp(timestamp, f"header {ts_name}", now, auth.tolerance)
    expected = _mac(_secret(auth), b"v0:" + timestamp.encode() + b":" + body, "sha256")
    _check_prefixed_mac(expected, headers, sig_name, "v0=", "hex")


def _verify_standard(
    auth: WebhookAuth, headers: Mapping[str, str], body: bytes, now: float
) -> None:
    # Svix, where the scheme comes from, still sends its own header names: the same scheme.
    prefix = "svix" if "webhook-id" not in headers and "svix-id" in headers else "webhook"
    msg_id = _header(headers, f"{prefix}-id")
    timestamp = _header(headers, f"{prefix}-timestamp")
    signature = _header(headers, f"{prefix}-signature")
    _check_timestamp(timestamp, f"header {prefix}-timestamp", now, auth.tolerance)
    entries = (entry.partition(",") for entry in signature.split())
    candidates = [text for version, _, text in entries if version == "v1"]
    if not candidates:
        raise VerificationError(f"header {prefix}-signature has no v1 signature")
    signed = _bytes(msg_id) + b"." + timestamp.encode() + b"." + body
    expected = _mac(_standard_key(auth.secret), signed, "sha256")
    _check_any(expected, (_from_base64(c) for c in candidates), f"{prefix}-signature")


def _standard_key(secret: str) -> bytes:
    """Decode a Standard Webhooks secret the way the reference library does."""
    try:
        # Non-validating, with spare padding, exactly like `standardwebhooks.Webhook`.
        key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    except ValueError:
        key = b""
    if not key:
        raise VerificationError("the standard_webhooks secret is empty or not base64")
    return key


_Verifier = Callable[[WebhookAuth, Mapping[str, str], bytes, float], None]
_VERIFIERS: dict[str, _Verifier] = {
    "hmac": _verify_hmac,
    "basic": _verify_basic,
    "header": _verify_header,
    "github": _verify_github,
    "stripe": _verify_stripe,
    "slack": _verify_slack,
    "standard_webhooks": _verify_standard,
}


# --- shared pieces -------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str:
    """The header's value; a plain dict is searched case-insensitively too."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if not value:
        raise VerificationError(f"missing header {name}")
    return value


def _secret(auth: WebhookAuth) -> bytes:
    if not auth.secret:
        raise VerificationError(f"no secret is configured for {auth.type} verification")
    return _bytes(auth.secret)


def _mac(key: bytes, message: bytes, algorithm: str) -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def _check_prefixed_mac(
    expected: bytes, headers: Mapping[str, str], name: str, prefix: str, encoding: str
) -> None:
    value = _header(headers, name).strip()
    if not value.startswith(prefix):
        raise VerificationError(f"header {name} does not start with {prefix!r}")
    text = value[len(prefix):]
    given = _from_hex(text) if encoding == "hex" else _from_base64(text)
    if given is None:
        raise VerificationError(f"header {name} does not hold a {encoding} signature")
    if not hmac.compare_digest(given, expected):
        raise VerificationError(f"bad signature in header {name}")


def _check_any(expected: bytes, candidates: Iterable[bytes | None], name: str) -> None:
    """Pass if any candidate matches; every candidate is compared, none short-circuits."""
    matched = False
    for candidate in candidates:
        matched |= candidate is not None and hmac.compare_digest(candidate, expected)
    if not matched:
        raise VerificationError(f"bad signature in header {name}")


def _check_timestamp(text: str, where: str, now: float, tolerance: float) -> None:
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_TIMESTAMP_DIGITS):
        raise VerificationError(f"{where} does not hold a Unix timestamp")
    age = now - int(text)
    if age > tolerance:
        raise VerificationError(
            f"timestamp in {where} is outside tolerance: {age:.0f} s old, "
            f"tolerance {tolerance:g} s"
        )
    if -age > tolerance:
        raise VerificationError(
            f"timestamp in {where} is outside tolerance: {-age:.0f} s in the future, "
            f"tolerance {tolerance:g} s"
        )


def _from_hex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text) if text.isascii() and text.isalnum() else None
    except ValueError:
        return None


def _from_base64(text: str) -> bytes | None:
    """Decode standard or URL-safe base64, padded or not; None when it is not base64."""
    normal = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except ValueError:
        return None


def _bytes(text: str) -> bytes:
    """Encode text, recovering raw bytes decoded with surrogateescape (as aiohttp does)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
