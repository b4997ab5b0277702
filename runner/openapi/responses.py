"""What `steps.<id>` is by an operation's responses: the shape datapills into it are walked down
when the recipe has no recorded sample of the step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.openapi.document import Document
from runner.openapi.operations import Operation
from runner.openapi.schema_shape import SchemaShape
from runner.samples.shape import NO_EXAMPLE, Kind, Shape
from runner.samples.values import UNKNOWN, MergedShape, ValueShape


def json_media(content: Any) -> tuple[str, Any] | None:
    """`(media type, schema)` of a `content` map's JSON media type (`application/json`,
    `*+json`); None when it has none or no schema."""
    if not isinstance(content, dict):
        return None
    for media, value in content.items():
        kind = str(media).split(";")[0].strip().lower()
        if (kind == "application/json" or kind.endswith("+json")) and isinstance(value, dict) \
                and "schema" in value:
            return str(media), value["schema"]
    return None


def json_schema_of(content: Any) -> Any:
    found = json_media(content)
    return None if found is None else found[1]


def expected_responses(document: Document, operation: Operation,
                       expect: Sequence[int] | None) -> list[tuple[str, Any]]:
    """`(status, response object)` of the statuses the step accepts: its `expect`, else 2xx;
    `default` only when no listed status fits."""
    responses = operation.node.get("responses")
    if not isinstance(responses, dict):
        return []
    wanted = [str(s) for s in expect] if expect else None
    found = []
    for status, response in responses.items():
        code = str(status)
        fits = (code in wanted or any(code == f"{s[0]}XX" for s in wanted)) if wanted else \
            (code.startswith("2") or code.upper() == "2XX")
        if fits:
            found.append((code, document.resolve(response)[0]))
    if not found and "default" in responses:
        found.append(("default", document.resolve(responses["default"])[0]))
    return found


def body_shape(document: Document, operation: Operation,
               expect: Sequence[int] | None) -> Shape | None:
    schemas = [json_schema_of(response.get("content")) for _, response in
               expected_responses(document, operation, expect) if isinstance(response, dict)]
    shapes: list[Shape] = [SchemaShape(document, schema) for schema in schemas
                           if schema is not None]
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else MergedShape(shapes)


class SchemaStepShape:
    """`steps.<id>` of a step described by an operation: `status`, `headers`, `body` (by the
    response schema), and the view's own `ok`, `error` and `skipped`."""

    kind: Kind = "object"
    type_name = "object"
    example = NO_EXAMPLE
    description: str | None = None

    def __init__(self, body: Shape) -> None:
        self._body = body

    def keys(self) -> Sequence[str] | None:
        return ["status", "headers", "body", "ok"]

    def child(self, key: str) -> Shape | None:
        if key == "body":
            return self._body
        if key == "status":
            return ValueShape(200)
        if key == "ok":
            return ValueShape(True)
        return UNKNOWN if key in ("headers", "error", "skipped") else None

    def element(self) -> Shape | None:
        return None


class EachStepShape:
    """`steps.<id>` of a `for_each` step: a list of those views."""

    kind: Kind = "list"
    type_name = "list"
    example = NO_EXAMPLE
    description: str | None = None

    def __init__(self, view: Shape) -> None:
        self._view = view

    def keys(self) -> Sequence[str] | None:
        return None

    def child(self, key: str) -> Shape | None:
        return None

    def element(self) -> Shape | None:
        return self._view
