"""The literal values of a step's request checked against the operation's schemas.

`params`, `headers`, `json` and `form` are checked where the document has a schema for them:
type, enum, pattern, lengths, bounds, required and (where the schema forbids them) unknown
properties, through `jsonschema`. A templated value is checked only when its type is known:
a datapill whose sample holds a value is checked as that value; one whose type a schema gives
is checked for its type only; any other template is skipped. Each problem names the schema the
rule is in (`specs/eventbrite.yaml#/components/schemas/Address`), through its `$ref`s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.openapi.document import Document
from runner.openapi.operations import Operation, escape
from runner.openapi.responses import json_media

Path_ = tuple[str | int, ...]
TYPE_SAMPLES = {"string": "", "integer": 0, "number": 0.5, "boolean": True, "object": {},
                "list": []}


@dataclass(frozen=True)
class Stand:
    """What a template stands for in the checked instance: `value`, and how far to trust it:
    `exact` (a sample's value: every rule applies) or `typed` (only its type is known)."""

    value: Any
    trust: str  # exact | typed
    source: str  # `{{ steps.find.body.country }}`, as messages name it


Known = Callable[[str], Stand | None]  # a template's Stand, or None when nothing is known


@dataclass(frozen=True)
class ValueProblem:
    path: Path_  # in the step's `request`: ("json", "venue", "address", "country")
    message: str
    at_key: bool = False  # place it at the key (an unknown property), not the value


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def parameters(document: Document, operation: Operation
               ) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
    """The operation's parameters by (in, name), its own over its path's, each with where it is
    in the document (a JSON pointer); names of headers lower-cased."""
    found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    path_pointer = operation.pointer.rsplit("/", 1)[0]
    for base, source in ((path_pointer, operation.path_item.get("parameters")),
                         (operation.pointer, operation.node.get("parameters"))):
        for index, raw in enumerate(source if isinstance(source, list) else ()):
            parameter, _, ref = document.resolve(raw)
            if isinstance(parameter, dict) and "name" in parameter and "in" in parameter:
                name, where = str(parameter["name"]), str(parameter["in"])
                pointer = ref[1:] if ref else f"{base}/parameters/{index}"
                found[(where, name.lower() if where == "header" else name)] = (parameter, pointer)
    return found


def check_request(document: Document, operation: Operation, request: dict[str, Any],
                  connection_params: set[str], known: Known) -> list[ValueProblem]:
    problems: list[ValueProblem] = []
    params = parameters(document, operation)
    given_query = request.get("params") if isinstance(request.get("params"), dict) else {}
    for (where, name), (parameter, _) in params.items():
        if where == "query" and parameter.get("required") and name not in given_query \
                and name not in connection_params:
            problems.append(ValueProblem(("params",) if "params" in request else ("url",),
                                         f"the required query parameter {name!r} is not given "
                                         f"(parameters of {operation.name})"))
    for field, where in (("params", "query"), ("headers", "header")):
        values = request.get(field)
        for name, value in (values.items() if isinstance(values, dict) else ()):
            key = str(name).lower() if where == "header" else str(name)
            if (where, key) not in params or "schema" not in params[(where, key)][0]:
                continue
            parameter, pointer = params[(where, key)]
            label = f"{document.shown_of(document.path)}#{pointer}"
            problems += _check(document, f"{pointer}/schema", value, (field, name), known, label)
    body, _, body_ref = document.resolve(operation.node.get("requestBody"))
    body_pointer = body_ref[1:] if body_ref else f"{operation.pointer}/requestBody"
    content = body.get("content") if isinstance(body, dict) else None
    media = json_media(content)
    if "json" in request and media is not None:
        pointer = f"{body_pointer}/content/{escape(media[0])}/schema"
        problems += _check(document, pointer, request["json"], ("json",), known, None)
    if "form" in request and isinstance(content, dict):
        form = content.get("application/x-www-form-urlencoded")
        if isinstance(form, dict) and "schema" in form:
            pointer = f"{body_pointer}/content/{escape('application/x-www-form-urlencoded')}/schema"
            problems += _check(document, pointer, request["form"], ("form",), known, None)
    if isinstance(body, dict) and body.get("required") and not ({"json", "form", "body"} &
                                                                set(request)):
        problems.append(ValueProblem(("method",), f"{operation.name} requires a request body, "
                                     "and the step sends none"))
    return problems


def _check(document: Document, pointer: str, value: Any, at: Path_, known: Known,
           label: str | None) -> list[ValueProblem]:
    """`value` checked against the schema at `pointer` (in the document's own file)."""
    stands: dict[Path_, Stand | None] = {}
    instance = _instance(value, (), known, stands)
    schema = {"$ref": f"#{pointer}"}
    problems = []
    for error in _validator(document, pointer).iter_errors(instance):
        if error.validator == "additionalProperties" and error.validator_value is False:
            problems += _unknown_properties(document, schema, error, at, label)
            continue
        problem = _problem(document, schema, error, at, stands, label)
        if problem is not None:
            problems.append(problem)
    return problems


def _unknown_properties(document: Document, schema: Any, error: Any, at: Path_,
                        label: str | None) -> list[ValueProblem]:
    """One problem per property the schema does not allow, each at its key."""
    allowed = set(error.schema.get("properties") or {})
    patterns = list(error.schema.get("patternProperties") or {})
    named = label or _named_schema(document, schema, list(error.absolute_schema_path))
    listed = ", ".join(sorted(allowed)) or "none"
    path = tuple(error.absolute_path)
    found = []
    for key in error.instance if isinstance(error.instance, dict) else ():
        if key in allowed or any(re.search(p, str(key)) for p in patterns):
            continue
        where = ".".join(str(p) for p in (*path, key)) if at[0] == "json" else \
            ".".join(str(p) for p in (*at, *path, key))
        found.append(ValueProblem((*at, *path, key), f"{where}: {key!r} is not a property the "
                                  f"schema allows (additionalProperties false in {named}; it "
                                  f"has {listed})", True))
    return found


def _instance(value: Any, path: Path_, known: Known, stands: dict[Path_, Stand | None]) -> Any:
    """The value as the API would get it, templates replaced by what they stand for (a
    placeholder for an unknown one, remembered in `stands` so its errors are dropped)."""
    if isinstance(value, dict):
        return {k: _instance(v, (*path, str(k)), known, stands) for k, v in value.items()}
    if isinstance(value, list):
        return [_instance(v, (*path, i), known, stands) for i, v in enumerate(value)]
    if is_template(value):
        stand = known(value)
        stands[path] = stand
        return stand.value if stand is not None else f"\x00{value}"
    return value


def _validator(document: Document, pointer: str) -> Any:
    """A validator of the schema at `pointer`, whose `$ref`s resolve through the document and
    the files beside it (a registry made once per document)."""
    import jsonschema

    if document.registry is None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4, DRAFT202012

        spec = DRAFT202012 if document.version.startswith("3.1") else DRAFT4
        registry: Any = Registry()
        for file, data in [(document.path, document.data), *document.files.items()]:
            registry = registry.with_resource(
                file.as_uri(), Resource.from_contents(data, default_specification=spec))
        document.registry = registry
    cls = jsonschema.Draft202012Validator if document.version.startswith("3.1") \
        else jsonschema.Draft4Validator
    return cls({"$ref": f"{document.path.as_uri()}#{pointer}"}, registry=document.registry)


def _problem(document: Document, schema: Any, error: Any, at: Path_,
             stands: dict[Path_, Stand | None], label: str | None) -> ValueProblem | None:
    path = tuple(error.absolute_path)
    if path in stands:
        stand = stands[path]
        if stand is None or (stand.trust == "typed" and error.validator != "type"):
            return None
    if error.validator in ("oneOf", "anyOf") and any(p[: len(path)] == path for p in stands):
        return None  # a template inside: the branch it would pick cannot be told
    if error.validator == "type" and error.instance is None and _nullable(document, schema,
                                                                          error):
        return None
    named = label or _named_schema(document, schema, list(error.absolute_schema_path))
    message = _words(error, _shown(error.instance, stands.get(path)), named)
    prefix = ".".join(str(p) for p in (path if at[0] == "json" else (*at, *path)))
    return ValueProblem((*at, *path), f"{prefix}: {message}" if prefix else message)


def _shown(value: Any, stand: Stand | None) -> str:
    """The failing value as the message shows it: a literal as written, a datapill by name."""
    if stand is None:
        return repr(value)
    return f"{stand.source} ({value!r} in the sample)" if stand.trust == "exact" else stand.source


def _nullable(document: Document, schema: Any, error: Any) -> bool:
    node = _node_at(document, schema, list(error.absolute_schema_path)[:-1])[0]
    return isinstance(node, dict) and node.get("nullable") is True


def _node_at(document: Document, schema: Any, parts: list[Any]) -> tuple[Any, str | None, Path]:
    node, file, pointer = document.resolve(schema)
    for part in parts:
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
        node, file, found = document.resolve(node, file)
        pointer = found or pointer
    return node, pointer, file


def _named_schema(document: Document, schema: Any, schema_path: list[Any]) -> str:
    """`specs/x.yaml#/components/schemas/Address`: the named schema the failing rule is in
    (`schema` is `{"$ref": "#<where the checked schema is>"}`, so there always is one)."""
    _, pointer, file = _node_at(document, schema, schema_path[:-1])
    return f"{document.shown_of(file)}{pointer}"


def _words(error: Any, shown: str, named: str) -> str:
    """The rule that failed, in the schema's words, and where the rule is."""
    rule, value = error.validator, error.validator_value
    if rule == "maxLength":
        return f"{shown} is longer than {value} characters (maxLength {value} in {named})"
    if rule == "minLength":
        unit = "character" if value == 1 else "characters"
        return f"{shown} is shorter than {value} {unit} (minLength {value} in {named})"
    if rule == "pattern":
        return f"{shown} does not match {value!r} (pattern in {named})"
    if rule == "enum":
        listed = ", ".join(repr(v) for v in value[:10]) + (", ..." if len(value) > 10 else "")
        return f"{shown} is not one of {listed} (enum in {named})"
    if rule == "type":
        wanted = value if isinstance(value, str) else " or ".join(value)
        return f"{shown} is not of type {wanted} (type {wanted} in {named})"
    if rule == "required":
        missing = [name for name in value if isinstance(error.instance, dict)
                   and name not in error.instance]
        names = ", ".join(repr(n) for n in missing) or repr(value)
        verb = "is" if len(missing) == 1 else "are"
        return f"{names} {verb} required (required in {named})"
    return f"{error.message} ({rule} {value!r} in {named})"


def type_stand(type_name: str, source: str) -> Stand | None:
    """A placeholder of a known type, for a datapill a schema describes."""
    if type_name in TYPE_SAMPLES:
        return Stand(TYPE_SAMPLES[type_name], "typed", source)
    return None

