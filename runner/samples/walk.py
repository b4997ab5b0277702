"""Walk a datapill path down a `Shape` and say, in the user's words, where it leaves the shape.

The walker is shared by the sample checks and the OpenAPI response checks, so both speak alike:
`steps.create_venue.body has no key 'venue' in samples/new-lead.json; it has: id, name, address`.
It reports only what is certain from the shape: an `unknown` or `null` place ends the walk
silently, and so does a method a template may call on text or a list (`.upper()`, `.split`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from runner.samples.shape import Shape

ProblemKind = Literal["missing-key", "not-an-object", "scalar", "not-a-list"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_STRING_METHODS = frozenset(name for name in dir(str) if not name.startswith("_"))
_LIST_METHODS = frozenset(name for name in dir(list) if not name.startswith("_"))
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_LISTED_KEYS = 20


@dataclass(frozen=True)
class PathProblem:
    """Where a path leaves its shape: `at` is the path up to the place (`steps.a.body`), `key`
    the segment that place cannot give, `shape` the place itself."""

    kind: ProblemKind
    at: str
    key: str | int | None
    shape: Shape


def segment_text(key: str | int) -> str:
    """How one segment is written after its parent: `.name`, `['odd key']` or `[0]`."""
    if isinstance(key, int):
        return f"[{key}]"
    return f".{key}" if _IDENTIFIER.match(key) else f"[{key!r}]"


def path_text(label: str, segments: Sequence[str | int]) -> str:
    return label + "".join(segment_text(key) for key in segments)


def first_problem(shape: Shape, label: str, segments: Sequence[str | int]) -> PathProblem | None:
    """The first segment of `segments` that `shape` (reached as `label`) cannot give, or None."""
    current = shape
    for index, key in enumerate(segments):
        kind = current.kind
        if kind in ("unknown", "null"):
            return None
        if kind == "object":
            found = current.child(key) if isinstance(key, str) else None
            if found is None:
                if isinstance(key, str) and key in _MAPPING_METHODS:
                    return None
                return PathProblem("missing-key", path_text(label, segments[:index]), key, current)
            current = found
        elif kind == "list":
            if isinstance(key, int):
                element = current.element()
                if element is None:  # an empty list: nothing known of its elements
                    return None
                current = element
            elif key in _LIST_METHODS:
                return None
            else:
                return PathProblem("not-an-object", path_text(label, segments[:index]), key,
                                   current)
        else:  # a scalar
            if current.type_name == "string" and isinstance(key, str) and key in _STRING_METHODS:
                return None
            return PathProblem("scalar", path_text(label, segments[:index]), key, current)
    return None


def list_problem(shape: Shape, label: str) -> PathProblem | None:
    """A value `for_each` loops over that the shape says is not a list."""
    if shape.kind in ("list", "unknown", "null"):
        return None
    return PathProblem("not-a-list", label, None, shape)


def describe(problem: PathProblem, source: str) -> str:
    """The message for a problem; `source` names what the shape came from (`samples/x.json`)."""
    shape, at, key = problem.shape, problem.at, problem.key
    if problem.kind == "missing-key":
        keys = list(shape.keys() or ())
        shown = ", ".join(keys[:_LISTED_KEYS]) + (
            f", ... ({len(keys) - _LISTED_KEYS} more)" if len(keys) > _LISTED_KEYS else "")
        close = difflib.get_close_matches(str(key), keys, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return (f"{at} has no key {key!r} in {source}{hint}; "
                + (f"it has: {shown}" if keys else "it has no keys"))
    if problem.kind == "not-an-object":
        return (f"{at} is a list in {source}, so it has no key {key!r}: index it "
                f"({at}[0]{segment_text(str(key))}) or loop over it with for_each")
    if problem.kind == "scalar":
        wanted = f"has no element {key}" if isinstance(key, int) else f"has no key {key!r}"
        return f"{at} is {_a(shape.type_name)} in {source}, so it {wanted}"
    return f"for_each needs a list, but {at} is {_a(shape.type_name)} in {source}"


def _a(type_name: str) -> str:
    return ("an " if type_name[:1] in "aeiou" else "a ") + type_name
