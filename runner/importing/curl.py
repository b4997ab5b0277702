"""Parses a cURL command (as "Copy as cURL" gives it) into a neutral request; nothing is sent."""

from __future__ import annotations

import base64
import json
import shlex
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit, urlunsplit


class CurlError(ValueError):
    """The command cannot be read; the message names the token and its position."""


@dataclass
class CurlRequest:
    method: str = "GET"
    url: str = ""
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    json_body: str | None = None
    user: str | None = None
    form: list[tuple[str, str]] = field(default_factory=list)


_IGNORED = {"--compressed", "-s", "--silent", "-S", "--show-error", "-L", "--location", "-k",
            "--insecure", "-v", "--verbose", "-i", "--include", "-sS", "-sL", "-Ls", "-fsSL"}
_DATA = {"-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--data-urlencode"}


def parse_curl(command: str) -> CurlRequest:
    """Reads `command`; raises CurlError naming the part it cannot read."""
    try:
        tokens = shlex.split(command.replace("\\\r\n", " ").replace("\\\n", " "))
    except ValueError as exc:
        raise CurlError(f"cannot split the command: {exc} (check quotes)") from exc
    if not tokens or tokens[0] != "curl":
        first = tokens[0] if tokens else ""
        raise CurlError(f"token 1 '{first}': the command must start with curl")
    req, method, get, head, i = CurlRequest(), None, False, False, 1
    while i < len(tokens):
        token, position = tokens[i], i + 1

        def value() -> str:
            if i + 1 >= len(tokens):
                raise CurlError(f"token {position} '{token}': expects a value")
            return tokens[i + 1]

        if token in ("-X", "--request"):
            method, i = value().upper(), i + 2
        elif token in ("-H", "--header"):
            name, sep, val = value().partition(":")
            if not sep:
                raise CurlError(f"token {position + 1} '{value()}': a header is NAME: VALUE")
            req.headers.append((name.strip(), val.strip()))
            i += 2
        elif token in _DATA:
            req.data.append(value())
            i += 2
        elif token == "--json":
            req.json_body, i = value(), i + 2
        elif token in ("-F", "--form"):
            name, sep, val = value().partition("=")
            if val.startswith(("@", "<")):
                raise CurlError(f"token {position + 1} '{value()}': file uploads (-F name=@file) "
                                "are not supported")
            req.form.append((name, val))
            i += 2
        elif token in ("-u", "--user"):
            req.user, i = value(), i + 2
        elif token in ("-A", "--user-agent"):
            req.headers.append(("User-Agent", value()))
            i += 2
        elif token in ("-b", "--cookie"):
            req.headers.append(("Cookie", value()))
            i += 2
        elif token == "--url":
            req.url, i = value(), i + 2
        elif token in ("-G", "--get"):
            get, i = True, i + 1
        elif token in ("-I", "--head"):
            head, i = True, i + 1
        elif token in _IGNORED:
            i += 1
        elif token.startswith("-"):
            raise CurlError(f"token {position} '{token}': unknown option")
        else:
            if req.url:
                raise CurlError(f"token {position} '{token}': a second URL")
            req.url, i = token, i + 1
    if not req.url:
        raise CurlError("no URL in the command")
    parts = urlsplit(req.url)
    req.params = parse_qsl(parts.query, keep_blank_values=True)
    req.url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if get and req.data:
        for chunk in req.data:
            req.params.extend(parse_qsl(chunk, keep_blank_values=True))
        req.data = []
    if req.user is not None:
        token = base64.b64encode(req.user.encode()).decode()
        req.headers.append(("Authorization", f"Basic {token}"))
    default = "HEAD" if head else "POST" if (req.data or req.json_body or req.form) else "GET"
    req.method = method or default
    return req


def json_value(text: str) -> object | None:
    """The parsed JSON of a body, or None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None
