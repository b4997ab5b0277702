"""Turning rendered values into an HTTP request, and an HTTP response into what templates see."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from multidict import CIMultiDict
from yarl import URL

from runner.errors import StepError
from runner.jsoncodec import dumps_body

if TYPE_CHECKING:
    from runner.http.client import Exchange
    from runner.redact import Redactor

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class Headers(Mapping[str, str]):
    """Response headers as templates see them: a mapping whose keys ignore case.

    The case-insensitive index is built on first use: every job's trigger gets a view of its
    headers, and most recipes never read one."""

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        self._pairs = pairs
        self._index: dict[str, tuple[str, str]] | None = None

    def _items(self) -> dict[str, tuple[str, str]]:
        index = self._index
        if index is None:
            pairs = self._pairs
            items = pairs.items() if isinstance(pairs, Mapping) else (pairs or [])
            index = {}
            for name, value in items:
                key = name.lower()
                if key in index:  # repeated headers join as HTTP allows
                    value = f"{index[key][1]}, {value}"
                    name = index[key][0]
                index[key] = (name, value)
            self._index, self._pairs = index, None
        return index

    def __getitem__(self, name: str) -> str:
        return self._items()[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items().values())

    def __len__(self) -> int:
        return len(self._items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items()

    def to_dict(self) -> dict[str, str]:
        return dict(self._items().values())

    def __repr__(self) -> str:
        """As a dict: what `'%s' % trigger` or `str.format` shows in a template (not a class
        path and a memory address)."""
        return repr(self.to_dict())


def join_url(base_url: str | None, url: Any, where: str, absolute_ok: bool = True) -> URL:
    """An absolute URL: `url` itself, or appended to the connection's base_url.

    `base_url: https://api.example.com/v3` with `url: /venues/` is `.../v3/venues/`: appended,
    as users of Workato and n8n expect, not resolved as a browser would (which drops `/v3`).

    With a base_url (a connection), a URL the recipe writes as a path must stay under it: data
    rendered into `/items/{{ trigger.body.id }}` can neither make it absolute (the connection's
    credentials would go to that host) nor climb out of base_url's path with `..`.
    """
    if not isinstance(url, str):
        shown = "null" if url is None else type(url).__name__
        raise StepError(f"{where}: url must render to text, got {shown}")
    text = url.strip()
    if text.lower().startswith(("http://", "https://")):
        if base_url and not absolute_ok:
            raise StepError(f"{where}: url is written as a path but renders to an absolute URL; "
                            "a URL leaving base_url must have its scheme and host written in the "
                            "recipe (the connection's credentials go with it)")
        return URL(text, encoded=False)
    if not base_url:
        raise StepError(f"{where}: url '{text}' is relative and there is no base_url to join it to")
    joined = URL(base_url.rstrip("/") + "/" + text.lstrip("/"))
    prefix = URL(base_url).path.rstrip("/")
    if prefix and joined.path != prefix and not joined.path.startswith(prefix + "/"):
        raise StepError(f"{where}: url leaves base_url's path {prefix} (a '..' in it, maybe from "
                        "data)")
    return joined


def query_pairs(*groups: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters in order; None is left out, lists repeat the key, booleans are `true`.

    A later group (the step's `params`) replaces an earlier one's (the connection's) parameter
    of the same name, as step headers override connection headers: sending both would leave
    the API to pick one, and most pick the first. A later null removes the earlier one. Names
    are compared exactly, since query strings are case-sensitive.
    """
    merged: dict[str, Any] = {}
    for group in groups:
        for name, value in (group or {}).items():
            merged.pop(str(name), None)  # the replacement takes the later group's place
            merged[str(name)] = value
    pairs: list[tuple[str, str]] = []
    for name, value in merged.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((name, scalar_text(v)) for v in values if v is not None)
    return pairs


def scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def header_values(*groups: Mapping[str, Any] | None) -> CIMultiDict[str]:
    """Headers, later groups overriding earlier ones (case-insensitively); None removes one.

    A name that is not an HTTP token, or a value with a line break, is an error here rather
    than something aiohttp refuses later (or, worse, a header injected from data).
    """
    headers: CIMultiDict[str] = CIMultiDict()
    for group in groups:
        for name, value in (group or {}).items():
            name = str(name)
            if not _TOKEN.fullmatch(name):
                raise StepError(f"header name {name[:60]!r} is not a valid HTTP header name")
            headers.popall(name, None)
            if value is not None:
                text = scalar_text(value)
                if "\r" in text or "\n" in text or "\0" in text:
                    raise StepError(f"header {name}: the value contains a line break")
                headers[name] = text
    return headers


def encode_body(kind: str, value: Any, headers: CIMultiDict[str]) -> bytes | None:
    """The body bytes for `json`, `form` or raw `body`, setting Content-Type unless given."""
    if kind == "none":
        return None
    try:
        return _encode(kind, value, headers)
    except (TypeError, ValueError) as exc:  # NaN, lone surrogates: nothing an API can read
        raise StepError(f"the {kind} body cannot be encoded: {exc}") from None


def _encode(kind: str, value: Any, headers: CIMultiDict[str]) -> bytes:
    if kind == "json":
        headers.setdefault("Content-Type", "application/json")
        return dumps_body(value)
    if kind == "form":
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urlencode(query_pairs(value if isinstance(value, Mapping) else {})).encode()
    headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    return value.encode() if isinstance(value, str) else dumps_body(value)


class BodyError(ValueError):
    """A response said it was JSON and was not."""


def parse_body(content_type: str, body: bytes) -> Any:
    """A response body as templates see it: parsed JSON, a form as a mapping, else text."""
    mime = content_type.split(";")[0].strip().lower()
    text = body.decode(_charset(content_type), errors="replace")
    if mime == "application/json" or mime.endswith("+json"):
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BodyError(f"its body is not valid JSON although it says {mime} ({exc.msg} "
                            f"at line {exc.lineno} column {exc.colno})") from None
    if mime == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            candidate = value.strip().strip('"')
            try:
                "".encode(candidate)
                return candidate
            except LookupError:
                break
    return "utf-8"


# How far past the shown start a body is read before redacting it: a secret that straddles the
# cut must be recognised whole, or its first part would be shown.
_REDACTION_MARGIN = 4096


def body_start(body: bytes, redact: Callable[[str], str], size: int = 200) -> str:
    """The start of a body on one line, for error messages: redacted, then cut."""
    text = redact(body[: size + _REDACTION_MARGIN].decode("utf-8", errors="replace"))
    text = " ".join(text.split())
    return (text[:size] + "…") if len(text) > size or len(body) > size + _REDACTION_MARGIN \
        else (text or "(empty)")


def read_exchange(
    exchange: Exchange, redactor: Redactor
) -> tuple[dict[str, Any], str | None]:
    """What templates see of an exchange (`status`, `headers`, `body`, `ok`), and why it failed.

    The reason (None on success) names the method, the URL and the start of the body as
    `redactor` shows them, and the status, so the user can act without opening the job record.
    A body that says it is JSON and is not fails the request too; the view keeps it as text.
    """
    request = exchange.request
    tries = len(exchange.attempts)
    after = f" (after {tries} attempts)" if tries > 1 else ""

    def where() -> str:  # only a failure needs it: redacting the URL costs per call
        return f"{request.method} {redactor.redact_url(str(exchange.sent_url or request.url))}"

    if exchange.status is None:
        return {}, f"{where()} failed{after}: {exchange.error}"
    status = exchange.status
    headers = Headers(list(exchange.headers.items()) if exchange.headers is not None else [])
    view: dict[str, Any] = {"status": status, "headers": headers, "ok": True}
    content_type = headers.get("Content-Type", "")
    bad_body = None
    try:
        view["body"] = parse_body(content_type, exchange.body)
    except BodyError as exc:
        view["body"] = exchange.body.decode(_charset(content_type), "replace")
        bad_body = str(exc)
    if bad_body is None and not exchange.error and request.accepts(status):
        return view, None
    answered = f"{where()} answered {status} {exchange.reason}".rstrip()
    start = body_start(exchange.body, redactor.redact_text)
    if bad_body is not None:
        return view, f"{answered}, but {bad_body}; body starts with: {start}"
    if exchange.error:
        return view, f"{answered}{after}: {exchange.error}; body starts with: {start}"
    expect = request.expect
    wanted = ", ".join(str(s) for s in sorted(expect)) if expect else "2xx"
    return view, f"{answered} (expected {wanted}){after}; body starts with: {start}"
