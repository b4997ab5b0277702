"""What `steps.<id>` is for a step without a recorded sample: its operation's response schema.

The statuses are the ones the step expects (`expect:`, default any 2xx); the JSON bodies of the
matching responses (`200`, `2XX`, else `default`) are alternatives of one shape. A step whose
operation, or expected responses, say nothing of the body is left unknown (nothing is claimed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runner.openapi.apis import Api, Apis
from runner.openapi.operations import Operation
from runner.openapi.refs import Where
from runner.openapi.schema_shape import SchemaShape
from runner.recipe.loader import Loaded
from runner.recipe.models import RecipeSpec, StepSpec
from runner.samples.checks import Known, RecipeShapes
from runner.samples.shape import NO_EXAMPLE, Kind, Shape
from runner.samples.values import UNKNOWN, ValueShape


def operation_of(api: Api, step: StepSpec) -> Operation | None:
    """The operation a step calls, when its method and URL match one."""
    found = api.matching(step.request.url)
    for op in found[1] if found is not None else ():
        if op.method == step.request.method:
            return op
    return None


def response_view(api: Api, op: Operation, expect: Sequence[int] | None) -> Shape | None:
    """`steps.<id>` of a step calling `op`, shared by every step that expects the same."""
    key = (op.label, tuple(expect) if expect is not None else None)
    if key not in api.views:
        found = response_body(api, op, expect)
        api.views[key] = ResponseViewShape(*found) if found is not None else None
    view: Shape | None = api.views[key]
    return view


def json_media(content: Any, form: bool = False) -> tuple[str, Any] | None:
    """The JSON (or, with `form`, urlencoded/multipart) media type of a `content` map."""
    if not isinstance(content, dict):
        return None
    for media, entry in content.items():
        lowered = media.split(";")[0].strip().lower()
        if form and lowered in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return media, entry
        if not form and (lowered == "application/json" or lowered.endswith("+json")
                         or lowered in ("*/*", "application/*")):
            return media, entry
    return None


def response_body(
    api: Api, op: Operation, expect: Sequence[int] | None
) -> tuple[Shape, int | None] | None:
    """The shape of the body of the responses a step expects and the first such status;
    None when nothing is said of the body."""
    responses, where = api.refs.follow(op.node.get("responses"),
                                       Where(api.document.uri, op.pointer + ("responses",)))
    if not isinstance(responses, dict):
        return None
    codes = [c for c in responses if _expected(c, expect)]
    if not codes and "default" in responses:
        codes = ["default"]
    branches = []
    for code in codes:
        response, at = api.refs.follow(responses[code], where / code)
        media = json_media(response.get("content")) if isinstance(response, dict) else None
        if media is None or not isinstance(media[1], dict) or "schema" not in media[1]:
            return None  # a response without a JSON schema: the body may be anything
        branches.append((media[1]["schema"], at / "content" / media[0] / "schema"))
    status = next((int(c) for c in codes if str(c).isdigit()), None)
    return (SchemaShape(api.refs, branches), status) if branches else None


def _expected(code: str, expect: Sequence[int] | None) -> bool:
    code = str(code).upper()
    if expect is None:
        return code.startswith("2")
    return any(code == str(s) or (code.endswith("XX") and code[0] == str(s)[0]) for s in expect)


class ResponseViewShape:
    """`steps.<id>` from a schema: `status`, `headers` (not described: open), `body`, `ok`."""

    kind: Kind = "object"
    type_name = "object"
    example = NO_EXAMPLE
    description: str | None = None
    _KEYS = ("status", "headers", "body", "ok")

    def __init__(self, body: Shape, status: int | None) -> None:
        self._body = body
        self._status = status

    def keys(self) -> Sequence[str] | None:
        return list(self._KEYS)

    def child(self, key: str) -> Shape | None:
        if key == "body":
            return self._body
        if key == "status":
            return ValueShape(self._status) if self._status else UNKNOWN
        if key == "ok":
            return ValueShape(True)
        return UNKNOWN if key in ("headers", "error", "skipped") else None

    def element(self) -> Shape | None:
        return None


class ListOfShape:
    """`steps.<id>` of a `for_each` step: a list of views."""

    kind: Kind = "list"
    type_name = "list"
    example = NO_EXAMPLE
    description: str | None = None

    def __init__(self, element: Shape) -> None:
        self._element = element

    def keys(self) -> Sequence[str] | None:
        return None

    def child(self, key: str) -> Shape | None:
        return None

    def element(self) -> Shape | None:
        return self._element


def add_response_shapes(loaded: Loaded, shapes: RecipeShapes, apis: Apis) -> None:
    """Adds a shape for every step the sample lacks whose response schema is known."""
    spec = loaded.spec
    assert isinstance(spec, RecipeSpec)
    for step in spec.steps:
        if step.id in shapes.steps:
            continue
        api = apis.for_step(step)
        op = operation_of(api, step) if api is not None else None
        if api is None or op is None:
            continue
        view = response_view(api, op, step.request.expect)
        if view is None:
            continue
        if step.for_each is not None:
            view = ListOfShape(view)
        shapes.steps[step.id] = Known(view, f"{api.name} ({op.label} response)", "openapi")
