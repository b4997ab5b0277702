"""A document's operations, and which one a step's method and URL call.

A step's URL is relative to its connection's `base_url`; the document's paths are relative to
its first server's URL. Both are brought to one path and compared segment by segment: a
`{param}` of the document matches any one segment, and a segment of the step that holds a
template (`/venues/{{ steps.find.body.id }}/`) must stand where the document has a parameter.
A trailing slash does not decide (`/venues` is `/venues/`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runner.openapi.document import Document

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TEMPLATED = None  # a segment of a step's URL that holds a template


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # as the document writes it: `/venues/{venue_id}/`
    operation_id: str | None
    summary: str | None
    node: dict[str, Any]  # the operation object
    path_item: dict[str, Any]
    segments: tuple[str | None, ...]  # None where the document has a `{param}`

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def pointer(self) -> str:
        """Where the operation is in the document: `/paths/~1venues~1/post`."""
        return f"/paths/{escape(self.path)}/{self.method.lower()}"


@dataclass(frozen=True)
class Match:
    operation: Operation | None  # None: nothing matched
    problem: str | None  # why not, with the closest operations


def escape(part: str) -> str:
    """One JSON pointer segment (RFC 6901): `~` and `/` escaped."""
    return part.replace("~", "~0").replace("/", "~1")


def operations(document: Document) -> list[Operation]:
    """Every operation, in the document's order (built once per document)."""
    if document.operations_cache is None:
        found = []
        paths = document.data.get("paths")
        for path, raw_item in (paths.items() if isinstance(paths, dict) else ()):
            item, _, _ = document.resolve(raw_item)
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                node = item.get(method)
                if isinstance(node, dict):
                    found.append(Operation(method.upper(), str(path), node.get("operationId"),
                                           node.get("summary"), node, item,
                                           _segments(str(path))))
        document.operations_cache = found
    return list(document.operations_cache)


def find_operation(document: Document, wanted: str) -> Operation | None:
    """By operationId, or `METHOD /path` as the document writes it."""
    method, _, path = wanted.strip().partition(" ")
    for operation in operations(document):
        if operation.operation_id == wanted.strip():
            return operation
        if path and operation.method == method.upper() and operation.path == path.strip():
            return operation
    return None


def _segments(path: str) -> tuple[str | None, ...]:
    parts = [part for part in path.split("/") if part != ""]
    return tuple(None if part.startswith("{") and part.endswith("}") else part for part in parts)


def server_path(document: Document) -> tuple[str, ...]:
    """The path of the first server's URL (`https://x/v3` -> ('v3',)), variables at their
    defaults; () when there is none."""
    servers = document.data.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ()
    url = str(servers[0].get("url", ""))
    for name, variable in (servers[0].get("variables") or {}).items():
        if isinstance(variable, dict):
            url = url.replace("{" + str(name) + "}", str(variable.get("default", "")))
    return tuple(part for part in urlsplit(url).path.split("/") if part)


def step_segments(base_url: str | None, url: str) -> tuple[str | None, ...] | None:
    """The path a step's URL calls, as segments (None for a templated one), from the root of
    its connection's host; None when it cannot be told (the URL is one template, say)."""
    text = url.strip().split("?", 1)[0].split("#", 1)[0]
    if text.startswith(("{{", "{%")):
        return None  # `{{ vars.api }}/x`: where it goes is decided at run time
    base: list[str] = []
    if text.lower().startswith(("http://", "https://")):
        text = urlsplit(text).path
    elif base_url:
        base = [part for part in urlsplit(base_url).path.split("/") if part]
    parts = [part for part in text.split("/") if part != ""]
    return tuple(base) + tuple(TEMPLATED if ("{{" in p or "{%" in p) else p for p in parts)


def match(document: Document, method: str, base_url: str | None, url: str) -> Match | None:
    """The operation a step calls, or a Match with the problem; None when the URL cannot be
    compared (it is decided at run time)."""
    called = step_segments(base_url, url)
    if called is None:
        return None
    prefix = server_path(document)
    if called[: len(prefix)] == prefix:
        called = called[len(prefix):]
    same_path = [op for op in _by_length(document).get(len(called), ())
                 if _fits(called, op.segments)]
    for operation in same_path:
        if operation.method == method.upper():
            return Match(operation, None)
    shown = "/" + "/".join("{...}" if part is None else part for part in called)
    if same_path:
        methods = ", ".join(op.method for op in same_path)
        return Match(None, f"{method.upper()} {shown} is not an operation of the document: "
                     f"{same_path[0].path} has {methods}")
    closest = _closest(document, method, shown)
    hint = f"; the closest: {', '.join(closest)}" if closest else ""
    return Match(None, f"{method.upper()} {shown} is not an operation of the document{hint}")


def _by_length(document: Document) -> dict[int, list[Operation]]:
    """Operations by their number of segments: a step is compared only with those of its own."""
    if document.operations_by_length is None:
        index: dict[int, list[Operation]] = {}
        for operation in operations(document):
            index.setdefault(len(operation.segments), []).append(operation)
        document.operations_by_length = index
    return dict(document.operations_by_length)


def _fits(called: tuple[str | None, ...], segments: tuple[str | None, ...]) -> bool:
    if len(called) != len(segments):
        return False
    for mine, theirs in zip(called, segments, strict=True):
        if theirs is None:
            continue  # a parameter takes any segment, literal or templated
        if mine is TEMPLATED or mine != theirs:
            return False
    return True


def _closest(document: Document, method: str, shown: str) -> list[str]:
    names = {op.name: op for op in operations(document)}
    wanted = f"{method.upper()} {shown}"
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6)
    if not close:  # the method may be what is off
        by_path = {op.path: op.name for op in operations(document)}
        close = [by_path[p] for p in difflib.get_close_matches(shown, list(by_path), n=3,
                                                               cutoff=0.6)]
    return close
