"""The operations of a document, and which one a step's method and URL call.

A step's URL is relative to its connection's `base_url`, an operation's path to one of the
document's `servers`; both are put on one footing by trying each server's path as a prefix
of the connection's base path plus the URL's path. A URL segment that is a template
(`/repos/{{ vars.owner }}/x`) matches a path parameter (`{owner}`), a literal segment matches a
literal or a parameter; the most literal match wins (`/user/repos` over `/user/{id}`). A
trailing slash is not held against a step: servers differ on it, the documents are silent.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_PARAM = re.compile(r"\{[^{}/]+\}")
_HOLE = "\x00"


@dataclass(frozen=True)
class Operation:
    """One method of one path: `POST /organizations/{organization_id}/venues/`."""

    method: str  # upper case
    path: str
    operation_id: str | None
    summary: str | None
    node: dict[str, Any]
    path_item: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def pointer(self) -> tuple[str, ...]:
        return ("paths", self.path, self.method.lower())


def operations(data: Any) -> list[Operation]:
    """Every operation of a document, in the document's order."""
    found = []
    paths = data.get("paths") if isinstance(data, dict) else None
    for path, item in (paths or {}).items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            node = item.get(method)
            if isinstance(node, dict):
                found.append(Operation(method.upper(), path, _text(node.get("operationId")),
                                       _text(node.get("summary")), node, item))
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def server_paths(data: Any) -> list[str]:
    """The path part of each server URL (`https://x/v3` -> `/v3`), variables at their default,
    longest first; always ending with "" (the operation paths taken as they are)."""
    found = {""}
    for server in data.get("servers") or () if isinstance(data, dict) else ():
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        for name, variable in (server.get("variables") or {}).items():
            if isinstance(variable, dict) and variable.get("default") is not None:
                url = url.replace("{" + name + "}", str(variable["default"]))
        found.add(urlsplit(url).path.rstrip("/"))
    return sorted(found, key=len, reverse=True)


def _segments(path: str) -> list[str]:
    parts = path.split("/")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # a trailing slash is not held against a step
    return parts


def url_path(base_url: str | None, url: str) -> str | None:
    """The path a step requests (the connection's base path joined with the URL's), templates
    kept; None when a template stands for the host or the whole URL."""
    text = url.split("?", 1)[0].split("#", 1)[0]
    if text.lstrip().startswith(("{{", "{%")):
        return None
    if "://" in text:
        split = urlsplit(_TEMPLATE.sub(_HOLE, text))
        if _HOLE in split.netloc:
            return None
        return _restore(split.path, text)
    return base_path(base_url) + (text if text.startswith("/") else "/" + text)


def base_path(base_url: str | None) -> str:
    """The path of a connection's base_url (`https://x/v3/` -> `/v3`)."""
    return urlsplit(base_url or "").path.rstrip("/") if base_url and "{{" not in base_url else ""


def _restore(path: str, original: str) -> str:
    holes = iter(_TEMPLATE.findall(original))
    return re.sub(_HOLE, lambda _: next(holes, ""), path)


class Index:
    """The operations of one document, for matching a step and for listing."""

    def __init__(self, data: Any) -> None:
        self.all = operations(data)
        self.prefixes = server_paths(data)
        # Buckets by (segment count, first segment): a step's path is scored against the few
        # operations that could match, not against all 1,200 of a large API.
        self._buckets: dict[tuple[int, str | None], list[tuple[int, Operation, Any]]] = {}
        self._patterns: dict[str, tuple[list[str], Any]] = {}
        for index, op in enumerate(self.all):
            segments = _segments(op.path)
            pattern = [_segment_pattern(s) for s in segments]
            first = segments[1] if len(segments) > 1 and not pattern[1][1] else None
            self._buckets.setdefault((len(segments), first), []).append((index, op, pattern))
            self._patterns[op.label] = (segments, pattern)
        self._matched: dict[tuple[str, str], list[Operation]] = {}

    def find(self, wanted: str) -> Operation | None:
        """An operation by operationId, or by `METHOD /path` as the document writes it."""
        for op in self.all:
            if op.operation_id == wanted:
                return op
        method, _, path = wanted.strip().partition(" ")
        for op in self.all:
            if op.method == method.upper() and op.path == path.strip():
                return op
        return None

    def search(self, word: str | None) -> list[Operation]:
        if not word:
            return list(self.all)
        folded = word.lower()
        return [op for op in self.all if folded in " ".join(
            filter(None, (op.label, op.operation_id, op.summary))).lower()]

    def matching(self, path: str, base_path: str = "") -> list[Operation]:
        """The operations whose path matches the step's path (any method), best first.
        `base_path` (the connection's) is tried as a server path too: a document without
        `servers` is served where the connection points."""
        known = self._matched.get((path, base_path))
        if known is None:
            known = self._matched[(path, base_path)] = self._match(path, base_path)
        return known

    def _match(self, path: str, base_path: str) -> list[Operation]:
        scored: dict[int, tuple[int, Operation]] = {}
        prefixes = self.prefixes if base_path in self.prefixes else [base_path, *self.prefixes]
        for prefix in prefixes:
            if prefix and not (path == prefix or path.startswith(prefix + "/")):
                continue
            wanted = _segments(_TEMPLATE.sub(_HOLE, path[len(prefix):]))
            first = wanted[1] if len(wanted) > 1 else None
            candidates = self._buckets.get((len(wanted), None), [])
            if first is not None and _HOLE not in first:  # a template matches parameters only
                candidates = candidates + self._buckets.get((len(wanted), first), [])
            for index, op, pattern in candidates:
                score = _score(wanted, pattern)
                if score is not None and score > scored.get(index, (-1, op))[0]:
                    scored[index] = (score, op)
        best = sorted(scored.values(), key=lambda pair: -pair[0])
        if not best:
            return []
        top = best[0][0]
        return [op for score, op in best if score == top]

    def literal_parameters(self, op: Operation, path: str, base_path: str = "") -> dict[str, str]:
        """The path parameters a step's URL gives as literals (`/issues/abc` -> issue_number)."""
        segments, pattern = self._patterns[op.label]
        for prefix in [base_path, *self.prefixes]:
            if prefix and not (path == prefix or path.startswith(prefix + "/")):
                continue
            wanted = _segments(_TEMPLATE.sub(_HOLE, path[len(prefix):]))
            if _score(wanted, pattern) is None:
                continue
            return {segment[1:-1]: unquote(given) for segment, given in zip(segments, wanted)
                    if _PARAM.fullmatch(segment) and _HOLE not in given}
        return {}

    def closest(self, method: str, path: str, base: str = "", count: int = 3) -> list[str]:
        """Labels of the operations most like `METHOD path` (for "did you mean")."""
        wanted = f"{method.upper()} {_PARAM.sub('{}', _TEMPLATE.sub('{}', path))}"
        labels = {f"{op.method} {_PARAM.sub('{}', op.path)}": op.label for op in self.all}
        for prefix in [base, *self.prefixes]:
            if prefix and wanted.split(" ", 1)[1].startswith(prefix):
                wanted = f"{method.upper()} {wanted.split(' ', 1)[1][len(prefix):]}"
                break
        close = difflib.get_close_matches(wanted, list(labels), n=count, cutoff=0.5)
        return [labels[c] for c in close]


def _segment_pattern(segment: str) -> tuple[re.Pattern[str], bool]:
    """The regex a document's path segment matches, and whether it holds a parameter."""
    has_param = bool(_PARAM.search(segment))
    pattern = "".join("[^/]+" if _PARAM.fullmatch(part) else re.escape(part)
                      for part in _split_keep(segment)) if has_param else re.escape(segment)
    return re.compile(pattern + r"\Z"), has_param


def _split_keep(text: str) -> list[str]:
    parts: list[str] = []
    last = 0
    for match in _PARAM.finditer(text):
        parts += [text[last:match.start()], match.group()]
        last = match.end()
    return [p for p in parts + [text[last:]] if p]


def _score(wanted: list[str], pattern: list[tuple[re.Pattern[str], bool]]) -> int | None:
    """How many literal segments agree, or None when the paths do not match."""
    if len(wanted) != len(pattern):
        return None
    score = 0
    for segment, (regex, has_param) in zip(wanted, pattern):
        if _HOLE in segment:
            if not has_param:
                return None
        elif not regex.match(segment):
            return None
        elif not has_param:
            score += 1
    return score


def path_parameters(op: Operation) -> Iterator[str]:
    for match in _PARAM.finditer(op.path):
        yield match.group()[1:-1]
