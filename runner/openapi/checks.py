"""What `runner validate` reports for requests through a connection with an OpenAPI document.

For each step (unless it says `openapi: false`), poll trigger and connection `test` request
through such a connection: its method and URL must be an operation
of the document, and its literal params, headers and `json` / `form` body must satisfy the
operation's schemas. Problems are warnings, errors under `--strict`, each at the value's own
`file:line:column`. The document's own problems are errors (see `runner.openapi.apis`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runner.errors import Diagnostic, Location, Severity, TemplateError
from runner.openapi.apis import Api, Apis
from runner.openapi.operations import Operation, base_path
from runner.openapi.refs import Where
from runner.openapi.responses import json_media
from runner.openapi.values_check import Templated, check_value, coerce, stand_in
from runner.recipe.loader import Loaded, LoadResult
from runner.recipe.models import RecipeSpec
from runner.redact import is_credential_header
from runner.samples.checks import RecipeShapes, plain_chain, recipe_shapes, resolve_chain
from runner.samples.files import SampleError
from runner.templating import compile_template

Path = tuple[str | int, ...]
_SCALAR_TYPES = {"string", "integer", "number", "boolean", "null"}


def openapi_problems(result: LoadResult, apis: Apis, strict: bool = False) -> list[Diagnostic]:
    """The documents' problems, and the problems against its operation of every request through
    a connection with a document: recipes' steps, poll triggers and connections' `test`."""
    problems = list(apis.problems)
    severity: Severity = "error" if strict else "warning"
    for loaded, at, request, typed, api in _requests(result, apis):
        problems += (Diagnostic(code, message, location, severity=severity)
                     for code, message, location in _request(api, loaded, at, request, typed))
    return problems


def _requests(result: LoadResult, apis: Apis) -> Iterator[tuple[Loaded, Path, Any, Any, Api]]:
    """Each request to check: where it is, its spec, what is known of its templates, its API."""
    for loaded in result.connections:
        api = apis.by_connection.get(loaded.spec.name)
        test = getattr(loaded.spec, "test", None)
        if api is not None and api.document.usable and test is not None \
                and api.connection is loaded.spec:
            yield loaded, ("test",), test, _typing({}, RecipeShapes()), api
    for loaded in result.recipes:
        spec = loaded.spec
        assert isinstance(spec, RecipeSpec)
        poll = spec.trigger.poll
        api = apis.by_connection.get(poll.connection) if poll and poll.connection else None
        if poll is not None and api is not None and api.document.usable:
            yield (loaded, ("trigger", "poll", "request"), poll.request,
                   _typing(spec.vars, RecipeShapes()), api)
        if not any(apis.for_step(step) for step in spec.steps):
            continue
        try:
            shapes = recipe_shapes(loaded, apis)
        except SampleError:  # reported by the sample checks
            shapes = RecipeShapes()
        typed = _typing(spec.vars, shapes)
        for index, step in enumerate(spec.steps):
            step_api = apis.for_step(step)
            if step_api is not None:
                yield loaded, ("steps", index, "request"), step.request, typed, step_api


def _request(api: Api, loaded: Loaded, at: Path, request: Any,
             typed: Any) -> Iterator[tuple[str, str, Location]]:
    found = api.matching(request.url)
    if found is None:
        return
    path, matches = found
    op = next((m for m in matches if m.method == request.method), None)
    if op is None:
        yield _unmatched(api, loaded, at, request.method, request.url, path, matches)
        return
    raw = _value_at(loaded.source.data, at)
    literals = api.index.literal_parameters(op, path, base_path(api.connection.base_url))
    yield from _path_parameters(api, op, loaded, at, literals)
    yield from _parameters(api, op, loaded, at, raw, typed)
    yield from _body(api, op, loaded, at, raw, typed)


def _value_at(data: Any, path: Path) -> dict[str, Any]:
    for key in path:
        data = data[key]
    return data if isinstance(data, dict) else {}


def _unmatched(api: Api, loaded: Loaded, at: Path, method: str, url: str, path: str,
               matches: list[Operation]) -> tuple[str, str, Location]:
    location = loaded.source.locate(at + ("url",))
    if matches:
        methods = ", ".join(dict.fromkeys(m.method for m in matches))
        return ("openapi-unknown-method",
                (f"{method} {url} is not an operation of {api.name}: {matches[0].path} has "
                f"{methods}"), location)
    close = api.index.closest(method, path, base_path(api.connection.base_url))
    hint = f"; closest: {', '.join(close)}" if close else ""
    return ("openapi-unknown-operation",
            f"{method} {url} matches no operation in {api.name}{hint}", location)


def _typing(variables: dict[str, Any], shapes: RecipeShapes) -> Any:
    """`typed(text)`: what is known of a template string (None: not a template)."""

    def typed(text: str) -> Templated | None:
        if "{{" not in text and "{%" not in text:
            return None
        try:
            template = compile_template(text)
        except TemplateError:
            return Templated(text, None)
        if not template.is_expression:
            return Templated(text, "string")  # text around datapills is text
        chain = plain_chain(text)
        if chain is None:
            return Templated(text, None)
        if chain[0] == "vars":
            return _var(variables, text, chain[1])
        resolved = resolve_chain(shapes, chain)
        if resolved is None or resolved[0].kind not in ("scalar", "null"):
            return Templated(text, None)
        name = resolved[0].type_name
        return Templated(text, name if name in _SCALAR_TYPES else None)

    return typed


def _var(variables: dict[str, Any], text: str, keys: tuple[str | int, ...]) -> Templated:
    value: Any = variables
    for key in keys:
        value = _item(value, key)
        if value is _NOTHING:
            return Templated(text, None)
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return Templated(text, None)
    return Templated(text, None, value)


_NOTHING: Any = object()


def _item(value: Any, key: str | int) -> Any:
    """`value[key]` for a mapping's key or a list's index; `_NOTHING` when there is none."""
    if isinstance(value, dict):
        return value.get(key, _NOTHING)
    if isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
        return value[key]
    return _NOTHING


def _parameters(api: Api, op: Operation, loaded: Loaded, at: Path, raw: dict[str, Any],
                typed: Any) -> Iterator[tuple[str, str, Location]]:
    given = {"query": raw.get("params"), "header": raw.get("headers")}
    for param, where in api.parameters(op):
        place, name = param.get("in"), param.get("name")
        if place not in given or not isinstance(name, str) or isinstance(given[place], str):
            continue  # path and cookie parameters; a mapping that is one template
        given_here = given[place]
        values: dict[str, Any] = given_here if isinstance(given_here, dict) else {}
        key = _find_key(values, name, place == "header")
        if key is None:
            if param.get("required") is True:
                yield from _missing(api, op, loaded, at, name, where, param, raw.get("url"))
            continue
        if place == "header" and is_credential_header(name):
            continue  # its value is never quoted back, so never checked
        schema_at = where / "schema"
        schema = param.get("schema")
        if api.refs.follow(schema, schema_at)[0] is None:
            continue
        value, templated = stand_in(values[key], typed)
        value = coerce(value, api.refs.follow(schema, schema_at)[0])
        label = f"{'query parameter' if place == 'query' else 'header'} {name}"
        field = "params" if place == "query" else "headers"
        for problem in check_value(api.refs, schema, schema_at, value, templated, label):
            path = at + (field, key) + problem.path
            yield (f"openapi-{place}-value", problem.message,
                   loaded.source.locate(path, key=problem.at_key))


def _path_parameters(api: Api, op: Operation, loaded: Loaded, at: Path,
                     literals: dict[str, str]) -> Iterator[tuple[str, str, Location]]:
    """Path parameters the URL gives as literals, against their schemas (at the URL)."""
    for param, where in api.parameters(op):
        name = param.get("name")
        if param.get("in") != "path" or name not in literals:
            continue
        schema = param.get("schema")
        value = coerce(literals[name], api.refs.follow(schema, where / "schema")[0])
        for problem in check_value(api.refs, schema, where / "schema", value, {},
                                   f"path parameter {name}"):
            yield ("openapi-path-value", problem.message, loaded.source.locate(at + ("url",)))


def _find_key(values: dict[str, Any], name: str, folded: bool) -> str | None:
    if name in values:
        return name
    if folded:
        return next((k for k in values if isinstance(k, str) and k.lower() == name.lower()), None)
    return None


def _missing(api: Api, op: Operation, loaded: Loaded, at: Path, name: str, where: Where,
             param: dict[str, Any], url: Any) -> Iterator[tuple[str, str, Location]]:
    """A required parameter the step does not send (the connection's own count as sent)."""
    place = param.get("in")
    connection = api.connection
    sent = connection.params if place == "query" else connection.headers
    auth = connection.auth.model_dump()
    sent = {**sent, **(auth.get("params" if place == "query" else "headers") or {})}
    if _find_key(sent, name, place == "header") is not None or (
            place == "query" and f"{name}=" in str(url).partition("?")[2]) or (
            name.lower() == "authorization" and auth.get("type") != "none"):
        return
    words = "query parameter" if place == "query" else "header"
    yield ("openapi-missing-parameter",
           f"{op.label} needs the {words} {name!r} (required in {api.refs.text(where)})",
           loaded.source.locate(at + ("url",)))


def _body(api: Api, op: Operation, loaded: Loaded, at: Path, raw: dict[str, Any],
          typed: Any) -> Iterator[tuple[str, str, Location]]:
    body_at = Where(api.document.uri, op.pointer + ("requestBody",))
    body, body_at = api.refs.follow(op.node.get("requestBody"), body_at)
    field = "json" if "json" in raw else "form" if "form" in raw else None
    if not isinstance(body, dict):
        return
    content = body.get("content")
    if field is None:
        if body.get("required") is True and "body" not in raw:
            kinds = ", ".join(content) if isinstance(content, dict) else "a body"
            yield ("openapi-missing-body", (f"{op.label} needs a request body ({kinds}; "
                   f"required in {api.refs.text(body_at)})"), loaded.source.locate(at))
        return
    media = json_media(content, form=field == "form")
    if media is None or not isinstance(media[1], dict) or "schema" not in media[1]:
        return
    schema_at = body_at / "content" / media[0] / "schema"
    schema = media[1]["schema"]
    if api.refs.follow(schema, schema_at)[0] is None or isinstance(raw[field], str):
        return  # a whole-body template: nothing known
    value, templated = stand_in(raw[field], typed)
    if field == "form" and isinstance(value, dict):
        value = _form_values(api, schema, schema_at, value)
    for problem in check_value(api.refs, schema, schema_at, value, templated, ""):
        yield (f"openapi-{field}-value", problem.message,
               loaded.source.locate(at + (field,) + problem.path, key=problem.at_key))


def _form_values(api: Api, schema: Any, where: Where, form: dict[str, Any]) -> dict[str, Any]:
    """A urlencoded form's fields are text on the wire, like query parameters: each is read as
    the integer, number or boolean its property's schema wants."""
    followed, at = api.refs.follow(schema, where)
    properties = followed.get("properties") if isinstance(followed, dict) else None
    if not isinstance(properties, dict):
        return form
    return {name: coerce(value, api.refs.follow(properties[name], at / "properties" / name)[0])
            if name in properties else value for name, value in form.items()}
