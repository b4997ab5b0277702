"""A response schema as a `Shape`, so datapill paths are checked against an API's description.

A JSON Schema says what may be there, where a sample says what once was. The shape reads the
schema as an API's user would: `allOf` parts are one object (their properties together),
`oneOf` / `anyOf` branches are alternatives (a key any branch has is accepted; where branches
disagree on the kind, nothing is claimed), `nullable` / `type: [x, "null"]` add null. An object
that lists `properties` has those keys (plus any `additionalProperties` allows); an object that
lists none is open (any key is accepted). Shapes are built lazily, so recursive schemas are fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.openapi.refs import Refs, Where
from runner.samples.shape import NO_EXAMPLE, Kind, Shape
from runner.samples.values import UNKNOWN

_SCALARS = {"string", "integer", "number", "boolean"}
_MAX_BRANCHES = 64


@dataclass
class _Flat:
    """A schema with its `$ref`s, `allOf` and `oneOf`/`anyOf` taken apart."""

    types: set[str] = field(default_factory=set)  # empty: the schema does not say
    properties: dict[str, tuple[Any, Where]] = field(default_factory=dict)
    extra: list[tuple[Any, Where]] = field(default_factory=list)  # additionalProperties schemas
    open: bool = False  # an object any key may be in
    items: list[tuple[Any, Where]] = field(default_factory=list)
    description: str | None = None
    example: Any = NO_EXAMPLE
    unknown: bool = False  # a branch that says nothing: everything is accepted


def _flatten(refs: Refs, branches: Sequence[tuple[Any, Where]]) -> _Flat:
    flat = _Flat()
    pending = list(branches)
    seen = 0
    while pending and seen < _MAX_BRANCHES:
        node, where = refs.follow(*pending.pop(0))
        seen += 1
        if node is True or node == {} or not isinstance(node, dict):
            flat.unknown = flat.unknown or node is not False
            continue
        _take(flat, node, where)
        for word in ("allOf", "oneOf", "anyOf"):
            parts = node.get(word)
            if isinstance(parts, list):
                pending.extend((part, where / word / i) for i, part in enumerate(parts))
    return flat


def _take(flat: _Flat, node: dict[str, Any], where: Where) -> None:
    stated = node.get("type")
    listed = [stated] if isinstance(stated, str) else stated if isinstance(stated, list) else []
    types = {t for t in listed if isinstance(t, str)}
    if node.get("nullable") is True:
        types.add("null")
    properties = node.get("properties")
    if isinstance(properties, dict):
        types.add("object")
        for name, schema in properties.items():
            flat.properties.setdefault(name, (schema, where / "properties" / name))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        flat.extra.append((extra, where / "additionalProperties"))
    elif extra is True or isinstance(extra, dict) or node.get("patternProperties"):
        flat.open = True
    if "items" in node:
        types.add("array")
        flat.items.append((node["items"], where / "items"))
    if "object" in types and not isinstance(properties, dict) and extra is None \
            and not _has_branches(node):
        flat.open = True  # `type: object` and nothing more: any key
    flat.types |= types
    if not types and not _has_branches(node):
        flat.unknown = True
    words = node.get("description") or node.get("title")
    if flat.description is None and isinstance(words, str):
        flat.description = words.strip().split("\n")[0]
    if flat.example is NO_EXAMPLE:
        for word in ("example", "default", "const"):
            if word in node:
                flat.example = node[word]
                break
        else:
            if isinstance(node.get("enum"), list) and node["enum"]:
                flat.example = node["enum"][0]


def _has_branches(node: dict[str, Any]) -> bool:
    return any(isinstance(node.get(word), list) for word in ("allOf", "oneOf", "anyOf"))


class SchemaShape:
    """One place in a schema (any number of alternatives of it), read as a `Shape`."""

    def __init__(self, refs: Refs, branches: Sequence[tuple[Any, Where]]) -> None:
        self._refs = refs
        self._flat = _flatten(refs, branches)

    @property
    def kind(self) -> Kind:
        flat = self._flat
        types = flat.types - {"null"}
        if flat.unknown or len(types) > 1 or (not types and "null" not in flat.types):
            return "unknown"
        if not types:
            return "null"
        only = types.pop()
        if only == "object":
            return "object"
        if only == "array":
            return "list"
        return "scalar" if only in _SCALARS else "unknown"

    @property
    def type_name(self) -> str:
        names = ["list" if t == "array" else t for t in sorted(self._flat.types - {"null"})]
        if "null" in self._flat.types:
            names.append("null")
        return " | ".join(names) or "any"

    @property
    def example(self) -> Any:
        return self._flat.example

    @property
    def description(self) -> str | None:
        return self._flat.description

    def keys(self) -> Sequence[str] | None:
        if self._flat.open and not self._flat.properties:
            return None
        return list(self._flat.properties)

    def child(self, key: str) -> Shape | None:
        flat = self._flat
        if key in flat.properties:
            return SchemaShape(self._refs, [flat.properties[key]])
        if flat.extra:
            return SchemaShape(self._refs, flat.extra)
        return UNKNOWN if flat.open else None

    def element(self) -> Shape | None:
        return SchemaShape(self._refs, self._flat.items) if self._flat.items else UNKNOWN
