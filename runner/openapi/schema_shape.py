"""A response schema as a `Shape`: what `steps.<id>.body` may hold by the API's own description.

A schema says what may come, not what one job saw, so it is read generously where it cannot
tell: `oneOf`/`anyOf` accept a key any branch has, `allOf` merges its parts, a schema without a
type or properties is `unknown` (anything below it passes). An object with `properties` lists
those; a key it does not list is refused unless `additionalProperties` allows more (then the key
has that schema's shape). `$ref`s are followed through the document, cycles included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.openapi.document import Document
from runner.samples.shape import NO_EXAMPLE, Kind, Shape
from runner.samples.values import UNKNOWN, MergedShape

_SCALARS = {"string", "integer", "number", "boolean"}


class SchemaShape:
    def __init__(self, document: Document, schema: Any, file: Any = None) -> None:
        node, self._file, _ = document.resolve(schema, file)
        self._document = document
        self._schema: dict[str, Any] = node if isinstance(node, dict) else {}
        self._parts = self._flatten()

    def _flatten(self) -> list[dict[str, Any]]:
        """The schema and its `allOf` parts (refs followed), depth-first."""
        found, stack, seen = [], [(self._schema, self._file)], 0
        while stack and seen < 64:
            node, file = stack.pop()
            seen += 1
            found.append(node)
            for part in reversed(node.get("allOf") or []):
                resolved, part_file, _ = self._document.resolve(part, file)
                if isinstance(resolved, dict):
                    stack.append((resolved, part_file))
        return found

    def _types(self) -> set[str]:
        types: set[str] = set()
        for part in self._parts:
            declared = part.get("type")
            if isinstance(declared, str):
                types.add(declared)
            elif isinstance(declared, list):
                types.update(str(t) for t in declared)
            if "properties" in part:
                types.add("object")
            if "items" in part:
                types.add("array")
        return types

    def _branches(self) -> list[SchemaShape]:
        return [SchemaShape(self._document, branch, self._file)
                for part in self._parts for key in ("oneOf", "anyOf")
                for branch in (part.get(key) or [])]

    @property
    def kind(self) -> Kind:
        types = self._types() - {"null"}
        if not types and (branches := self._branches()):
            kinds = {b.kind for b in branches}
            return kinds.pop() if len(kinds) == 1 else "unknown"
        if types == {"object"}:
            return "object"
        if types == {"array"}:
            return "list"
        if types and types <= _SCALARS:
            return "scalar"
        if not types and self._types() == {"null"}:
            return "null"
        return "unknown"

    @property
    def type_name(self) -> str:
        types = sorted(self._types() - {"null"})
        if types == ["array"]:
            return "list"
        return "/".join(types) if types else "any"

    @property
    def example(self) -> Any:
        for part in self._parts:
            if "example" in part and not isinstance(part["example"], (dict, list)):
                return part["example"]
            if isinstance(part.get("enum"), list) and part["enum"]:
                return part["enum"][0]
        return NO_EXAMPLE

    @property
    def description(self) -> str | None:
        for part in self._parts:
            text = part.get("description") or part.get("title")
            if isinstance(text, str) and text.strip():
                return " ".join(text.split())
        return None

    def _properties(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for part in self._parts:
            properties = part.get("properties")
            if isinstance(properties, dict):
                for name, schema in properties.items():
                    found.setdefault(str(name), (schema, self._file))
        return found

    def _additional(self) -> Any:
        """The schema of keys `properties` does not list: False when none may be there."""
        for part in self._parts:
            if "additionalProperties" in part:
                return part["additionalProperties"]
        return not self._properties()

    def keys(self) -> Sequence[str] | None:
        if self.kind == "unknown" or (self.kind == "object" and self._additional() is True
                                      and not self._properties()):
            return None
        if self._branches() and not self._properties():
            merged = MergedShape(self._branches())
            return merged.keys()
        return list(self._properties())

    def child(self, key: str) -> Shape | None:
        if self.kind == "unknown":
            branches = self._branches()
            return MergedShape(branches).child(key) if branches else UNKNOWN
        properties = self._properties()
        if key in properties:
            schema, file = properties[key]
            return SchemaShape(self._document, schema, file)
        if self._branches():
            return MergedShape(self._branches()).child(key)
        extra = self._additional()
        if extra is True or extra == {}:
            return UNKNOWN
        if isinstance(extra, dict):
            return SchemaShape(self._document, extra, self._file)
        return None

    def element(self) -> Shape | None:
        for part in self._parts:
            if "items" in part:
                return SchemaShape(self._document, part["items"], self._file)
        branches = self._branches()
        return MergedShape(branches).element() if branches else None
