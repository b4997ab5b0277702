"""Redaction: remove secret values and credential headers from what the runner shows or stores."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

from runner.jsoncodec import dumps
from runner.log_fields import extra_keys

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "SENSITIVE_PARAMS",
    "RedactingFilter",
    "Redactor",
    "has_credential_header",
    "is_credential_header",
    "mask_credential_headers",
]

REDACTED = "***"

# A shorter value would turn ordinary text into asterisks (a secret "a" would redact every "a"),
# so values below this length are not recorded; a real credential is never that short.
MIN_SECRET_LENGTH = 3

# Header values that are credentials whatever their content (spec: "Secrets").
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# Query parameters that carry credentials by convention; redacted even when no secret is known,
# because OAuth2 access tokens and API keys often arrive in URLs the runner did not build.
SENSITIVE_PARAMS = frozenset(
    {"access_token", "refresh_token", "id_token", "client_secret", "api_key", "apikey",
     "password", "token"}
)

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


def _encoded_forms(value: str) -> set[str]:
    """The ways a value commonly appears in text: raw, URL-encoded (as a query value, and as a
    path segment keeps `@ & = + /` and the like), and escaped inside JSON."""
    return {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        quote(value, safe=_PATH_SAFE),
        _in_json(value),
        json.dumps(value)[1:-1],
        _in_json(_in_json(value)),  # JSON text holding JSON text (an API echoing a request body)
    }


# What a URL path keeps unencoded (RFC 3986 pchar and "/"), as yarl builds request paths.
_PATH_SAFE = "/:@!$&'()*+,;="


def _in_json(value: str) -> str:
    """How `value` appears inside a JSON string as the runner encodes it (UTF-8, not \\u)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _pairs(headers: HeaderInput) -> Iterable[tuple[str, str]]:
    """Header pairs from a dict, a multidict (repeated keys kept) or an iterable of pairs."""
    items = getattr(headers, "items", None)
    return items() if callable(items) else headers  # type: ignore[return-value]


def is_credential_header(name: str) -> bool:
    """Whether a header's value is a credential whatever it holds (`Authorization`, ...)."""
    return name.lower() in SENSITIVE_HEADERS


def has_credential_header(headers: HeaderInput) -> bool:
    """Whether any of the headers is a credential header (most requests carry none)."""
    keys = getattr(headers, "keys", None)
    names = keys() if callable(keys) else (name for name, _ in headers)  # type: ignore[union-attr]
    return not SENSITIVE_HEADERS.isdisjoint(map(str.lower, names))


def mask_credential_headers(headers: HeaderInput) -> dict[str, Any]:
    """Headers as a plain dict, credential headers' values replaced by `***`; a name sent more
    than once is one entry, its values joined with ", " as HTTP defines (RFC 9110, 5.3). The
    rule for headers the runner keeps as data: an incoming webhook's or `runner run --event`'s,
    and a response's in a step's stored output."""
    pairs = list(_pairs(headers))
    plain = dict(pairs)
    lowered = set(map(str.lower, plain))
    if len(lowered) != len(pairs):  # a name repeated (in any case): rare, a second pass
        plain, spelled = {}, {}
        for name, value in pairs:
            key = spelled.setdefault(name.lower(), name)  # kept as first sent
            plain[key] = f"{plain[key]}, {value}" if key in plain else value
    if not SENSITIVE_HEADERS.isdisjoint(lowered):
        for name in plain:  # assigning to existing keys: the dict keeps its size
            if name.lower() in SENSITIVE_HEADERS:
                plain[name] = REDACTED
    return plain


class Redactor:
    """The set of secret values seen so far, and the functions that hide them.

    Every occurrence of every recorded value is replaced by `***`; overlapping or adjacent
    occurrences collapse into one `***`, so no part of a secret survives between two matches.
    Safe to share between threads and tasks: `add` replaces an immutable tuple.

    `scoped()` gives a redactor for one job: it hides this one's values (those recorded later
    too) and its own, which no other job's records or the logs pay for.
    """

    def __init__(self, values: Iterable[str] = (), parent: Redactor | None = None) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        # The same values as they appear in JSON text: a value holding a quote or a backslash
        # is spelled differently there, and `redact_data` searches an encoding of the data.
        self._json_values: tuple[str, ...] = ()
        self._parent = parent
        for value in values:
            self.add(value)

    def scoped(self) -> Redactor:
        """A redactor that hides this one's values and, besides, those recorded in it."""
        return Redactor(parent=self)

    def _known(self) -> tuple[str, ...]:
        parent = self._parent
        return self._values if parent is None else parent._known() + self._values

    def _known_in_json(self) -> tuple[str, ...]:
        parent = self._parent
        return self._json_values if parent is None else parent._known_in_json() + self._json_values

    def add(self, value: str) -> None:
        """Record a secret value (and its URL- and JSON-encoded forms); short values are ignored."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        forms = {f for f in _encoded_forms(value) if len(f) >= MIN_SECRET_LENGTH}
        with self._lock:
            merged = set(self._values) | forms
            if len(merged) != len(self._values):
                self._values = tuple(merged)
                self._json_values = tuple({_in_json(form) for form in merged})

    def add_basic_auth(self, username: str, password: str) -> None:
        """Record a password and the base64 `user:password` token of a Basic Authorization."""
        self.add(password)
        if password:
            self.add(base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))

    def add_sent_headers(self, headers: HeaderInput) -> None:
        """Record the values of the credential headers of a request that was sent: for
        `Authorization: <scheme> <credentials>` the credentials (so `Basic ***` still says which
        scheme was used), else the whole value. A server that echoes request headers (httpbin's
        `/anything`) gives them back in a body."""
        for name, value in _pairs(headers):
            if not isinstance(value, str) or not is_credential_header(name):
                continue
            _, space, credentials = value.strip().partition(" ")
            cookie = name.lower() == "cookie"
            self.add(credentials.strip() if space and not cookie else value)

    def add_set_cookies(self, headers: Any) -> None:
        """Record the cookie values a response sets (`Set-Cookie: name=value; Path=/`): a later
        step that copies the header, or an API that echoes the cookie, shows them as `***`."""
        for value in headers.getall("Set-Cookie", ()):
            cookie = str(value).split(";", 1)[0]
            _, equals, cookie_value = cookie.partition("=")
            self.add((cookie_value if equals else cookie).strip().strip('"'))

    @property
    def holds_values(self) -> bool:
        """Whether any secret is recorded: with none, every redaction gives back its input."""
        return bool(self._known())

    def redact_text(self, text: str) -> str:
        """The text with every recorded value replaced by `***`."""
        spans: list[tuple[int, int]] = []
        for value in self._known():
            start = text.find(value)
            while start != -1:
                spans.append((start, start + len(value)))
                start = text.find(value, start + len(value))
        if not spans:
            return text
        spans.sort()
        out: list[str] = []
        pos = 0
        end = -1
        for start, stop in spans:
            if start > end:  # a new run of secret characters begins
                out.append(text[pos:start])
                out.append(REDACTED)
            end = max(end, stop)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def redact_header_pairs(self, headers: HeaderInput) -> list[tuple[str, str]]:
        """Header pairs in order, repeated names kept; credential headers become `***`."""
        pairs = list(_pairs(headers))
        values = self._known()
        if not values or not any(v in "\n".join(value for _, value in pairs) for v in values):
            # The common case: no secret in any value, only credential headers to hide.
            return [(n, REDACTED if is_credential_header(n) else v) for n, v in pairs]
        return [
            (name, REDACTED if is_credential_header(name) else self.redact_text(value))
            for name, value in pairs
        ]

    def redact_headers(self, headers: HeaderInput) -> dict[str, str]:
        """A plain dict of redacted headers; repeated names (any case) are joined with `, `."""
        merged: dict[str, str] = {}
        spelling: dict[str, str] = {}
        for name, value in self.redact_header_pairs(headers):
            key = spelling.setdefault(name.lower(), name)
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return merged

    def redact_data(self, obj: Any) -> Any:
        """Nested dicts / lists / tuples with secrets removed from keys and text values.

        Data holding no secret (nearly all of it) comes back as it is, not copied: one C-speed
        JSON encoding and a search of it cost less than visiting every value. Data JSON cannot
        hold as it is (a mapping that is not a dict, say) is visited value by value instead.
        """
        values = self._known_in_json()
        if not values:
            return obj
        if isinstance(obj, (Mapping, list, tuple)):
            try:
                text = dumps(obj)
            except (TypeError, ValueError, RecursionError):
                text = None
            if text is not None and not any(value in text for value in values):
                return obj
        return self._redact_walk(obj)

    def _redact_walk(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.redact_text(obj)
        if isinstance(obj, Mapping):
            return {self._redact_walk(k): self._redact_walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._redact_walk(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._redact_walk(v) for v in obj)
        if isinstance(obj, (bytes, bytearray)):
            # surrogateescape round-trips bytes that are not UTF-8 unchanged.
            text = bytes(obj).decode("utf-8", "surrogateescape")
            return self.redact_text(text).encode("utf-8", "surrogateescape")
        return obj

    def redact_url(self, url: str) -> str:
        """The URL without its userinfo password, credential query parameters or secret values."""
        if "?" not in url and "@" not in url:  # no query, no userinfo: only secret values to hide
            return self.redact_text(url)
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user, has_password, _ = userinfo.partition(":")
            netloc = f"{user}:{REDACTED}@{host}" if has_password else f"{userinfo}@{host}"
        query = "&".join(self._redact_param(p) for p in parts.query.split("&"))
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return self.redact_text(rebuilt)

    def _redact_param(self, param: str) -> str:
        """One `name=value` of a query string, value hidden if its name or content is secret."""
        name, has_value, raw = param.partition("=")
        if not has_value:
            return param
        if unquote_plus(name).lower() in SENSITIVE_PARAMS and raw:
            return f"{name}={REDACTED}"
        # Decode first: the value may be encoded differently from the forms `add` recorded.
        decoded = unquote_plus(raw)
        redacted = self.redact_text(decoded)
        return param if redacted == decoded else f"{name}={quote_plus(redacted, safe='*')}"


class RedactingFilter(logging.Filter):
    """Hides secrets in log records; attach it to handlers (logger filters do not propagate)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break the caller; log it raw instead
            message = f"{record.msg} {record.args!r}"
        record.args = None
        redactor = self.redactor
        if not redactor.holds_values:  # nothing to hide yet: every redaction would be a no-op
            record.msg = message
            return True
        record.msg = redactor.redact_text(message)
        if record.exc_info and not record.exc_text:
            # Formatter.format reuses exc_text, so the traceback is redacted once, here.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.redact_text(record.stack_info)
        fields = record.__dict__
        for key in extra_keys(record):  # structured `extra=` fields
            fields[key] = _redact_field(redactor, fields[key])
        return True

    def redact_fields(self, message: str, fields: dict[str, Any]) -> str:
        """What `filter` does to a record, done to a message and its fields (changed in place)
        that were never made into one: `runner.logs.log_fields`' lines. Gives the message."""
        redactor = self.redactor
        if not redactor.holds_values:
            return message
        for key, value in fields.items():
            fields[key] = _redact_field(redactor, value)
        return redactor.redact_text(message)


def _redact_field(redactor: Redactor, value: Any) -> Any:
    if type(value) is str:
        return redactor.redact_text(value)
    if value is not None and type(value) not in _PLAIN:
        return redactor.redact_data(value)
    return value


_PLAIN = frozenset({int, float, bool})  # field values that cannot hold a secret
