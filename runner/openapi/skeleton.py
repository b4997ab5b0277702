"""A step written from an operation of a document: what `runner import openapi` prints.

The URL is relative to the connection (its base URL's path taken off the server's), each path
parameter a `{{ trigger.body.<name> }}` placeholder to point at the right datapill; required
query and header parameters come with their example or default where the document gives one;
the JSON body is the operation's example when it has one, else a skeleton of its schema's
required properties (each with its example, default, first enum value, or an empty value).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from runner.openapi.document import Document
from runner.openapi.operations import Operation, server_path
from runner.openapi.responses import json_schema_of
from runner.openapi.values_check import parameters

MAX_DEPTH = 8
_EMPTY = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def placeholder(name: str) -> str:
    return "{{ trigger.body." + (name if name.isidentifier() else f"['{name}']") + " }}"


def step_from(document: Document, operation: Operation, connection: str, base_url: str | None,
              step_id: str) -> tuple[dict[str, Any], list[str]]:
    notes = [f"{operation.name}" + (f": {operation.summary}" if operation.summary else "")
             + (f" (operationId {operation.operation_id})" if operation.operation_id else "")]
    url = _relative_url(document, operation, base_url)
    params, headers, placeholders = {}, {}, []
    for (where, _), (parameter, _) in parameters(document, operation).items():
        name = str(parameter["name"])
        if where == "path":
            url = url.replace("{" + name + "}", placeholder(name))
            placeholders.append(name)
        elif parameter.get("required") and where in ("query", "header"):
            value = _parameter_value(document, parameter)
            if value is None:
                value = placeholder(name)
                placeholders.append(name)
            (params if where == "query" else headers)[name] = value
    request: dict[str, Any] = {"connection": connection, "method": operation.method, "url": url}
    if params:
        request["params"] = params
    if headers:
        request["headers"] = headers
    body = _request_body(document, operation)
    if body is not None:
        request["json"] = body
    if placeholders:
        notes.append("point the placeholders (" + ", ".join(placeholder(n) for n in placeholders)
                     + ") at the datapills that hold them: `runner datapills RECIPE`")
    return {"id": step_id, "request": request}, notes


def _relative_url(document: Document, operation: Operation, base_url: str | None) -> str:
    full = "/" + "/".join([*server_path(document), operation.path.lstrip("/")])
    base = urlsplit(base_url).path.rstrip("/") if base_url else ""
    if base and (full == base or full.startswith(base + "/")):
        full = full[len(base):] or "/"
    return full


def _parameter_value(document: Document, parameter: dict[str, Any]) -> Any:
    if "example" in parameter:
        return parameter["example"]
    schema = document.resolve(parameter.get("schema"))[0]
    if isinstance(schema, dict):
        for key in ("example", "default"):
            if key in schema:
                return schema[key]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
    return None


def _request_body(document: Document, operation: Operation) -> Any:
    body = document.resolve(operation.node.get("requestBody"))[0]
    if not isinstance(body, dict):
        return None
    content = body.get("content")
    if not isinstance(content, dict):
        return None
    for media, value in content.items():
        kind = str(media).split(";")[0].strip().lower()
        if not (kind == "application/json" or kind.endswith("+json")) or not isinstance(
                value, dict):
            continue
        if "example" in value:
            return value["example"]
        examples = value.get("examples")
        if isinstance(examples, dict) and examples:
            first = document.resolve(next(iter(examples.values())))[0]
            if isinstance(first, dict) and "value" in first:
                return first["value"]
    schema = json_schema_of(content)
    return None if schema is None else skeleton(document, schema)


def skeleton(document: Document, schema: Any, depth: int = 0) -> Any:
    """A value the schema accepts, as small as its required properties allow."""
    node, _, _ = document.resolve(schema)
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return None
    for key in ("example", "default"):
        if key in node:
            return node[key]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][0]
    for key in ("allOf",):
        if isinstance(node.get(key), list):
            merged: dict[str, Any] = {}
            for part in node[key]:
                value = skeleton(document, part, depth + 1)
                if isinstance(value, dict):
                    merged.update(value)
            return merged
    for key in ("oneOf", "anyOf"):
        if isinstance(node.get(key), list) and node[key]:
            return skeleton(document, node[key][0], depth + 1)
    kind = node.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or (kind is None and "properties" in node):
        properties = node.get("properties") or {}
        return {name: skeleton(document, properties.get(name, {}), depth + 1)
                for name in node.get("required") or [] if isinstance(name, str)}
    if kind == "array":
        if node.get("minItems"):
            return [skeleton(document, node.get("items", {}), depth + 1)]
        return []
    return _EMPTY.get(str(kind), None)
