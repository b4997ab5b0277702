"""`runner import openapi`: a step written from an operation, ready to edit.

The step has the method, the URL relative to the connection (path parameters become
`{{ trigger.body.<name> }}` placeholders), the required query parameters and headers, and a
body: the operation's own example when it has one, else a skeleton of the schema's required
fields (an enum's first value, a default, a typed empty value; text as a placeholder).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from runner.openapi.apis import Api
from runner.openapi.operations import Operation, server_paths
from runner.openapi.refs import Where
from runner.openapi.responses import json_media

_MAX_DEPTH = 6
_EMPTY = {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def placeholder(name: str) -> str:
    return "{{ trigger.body." + re.sub(r"[^A-Za-z0-9_]", "_", name) + " }}"


def step_id(op: Operation) -> str:
    """A step id from the operationId (`issues/create` -> `issues_create`)."""
    base = op.operation_id or f"{op.method} {op.path}"
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", base)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return text if re.match(r"[a-z_]", text or "0") else f"step_{text}"


def build_step(api: Api, connection: str, op: Operation) -> tuple[dict[str, Any], list[str]]:
    """The step mapping and the comments that go above it."""
    notes = [f"{op.label}" + (f": {op.summary}" if op.summary else "")
             + (f" (operationId {op.operation_id})" if op.operation_id else "")]
    request: dict[str, Any] = {"connection": connection, "method": op.method,
                               "url": _url(api, op)}
    params: dict[str, Any] = {}
    headers: dict[str, Any] = {}
    for param, where in api.parameters(op):
        name, place = param.get("name"), param.get("in")
        if not isinstance(name, str) or param.get("required") is not True:
            continue
        value = _example(api, param, where) if place in ("query", "header") else None
        if place == "query":
            params[name] = value if value is not None else placeholder(name)
        elif place == "header":
            headers[name] = value if value is not None else placeholder(name)
    if params:
        request["params"] = params
    if headers:
        request["headers"] = headers
    _body(api, op, request)
    if "{{ trigger.body." in str(request):
        notes.append("{{ trigger.body.* }} are placeholders: put the datapills your recipe has")
    return {"id": step_id(op), "request": request}, notes


def _url(api: Api, op: Operation) -> str:
    """The operation's path as the connection's relative URL (absolute without a base_url)."""
    url = re.sub(r"\{([^{}/]+)\}", lambda m: placeholder(m.group(1)), op.path)
    servers = api.document.data.get("servers") or [] if isinstance(api.document.data, dict) else []
    server_path = server_paths({"servers": servers[:1]})[0] if servers else ""
    base = api.connection.base_url
    if not base:
        first = servers[0].get("url") if servers and isinstance(servers[0], dict) else ""
        return f"{str(first).rstrip('/')}{url}" if first else url
    base_path = urlsplit(base).path.rstrip("/")
    full = server_path + url
    return full[len(base_path):] if base_path and full.startswith(base_path) else full


def _body(api: Api, op: Operation, request: dict[str, Any]) -> None:
    body, at = api.refs.follow(op.node.get("requestBody"),
                               Where(api.document.uri, op.pointer + ("requestBody",)))
    if not isinstance(body, dict):
        return
    for form in (False, True):
        media = json_media(body.get("content"), form=form)
        if media is None or not isinstance(media[1], dict):
            continue
        entry = media[1]
        value = _media_example(entry)
        if value is None and "schema" in entry:
            value = skeleton(api, entry["schema"], at / "content" / media[0] / "schema")
        request["form" if form else "json"] = value if value is not None else {}
        return


def _media_example(entry: dict[str, Any]) -> Any:
    if "example" in entry:
        return entry["example"]
    examples = entry.get("examples")
    if isinstance(examples, dict):
        for example in examples.values():
            if isinstance(example, dict) and "value" in example:
                return example["value"]
    return None


def _example(api: Api, param: dict[str, Any], where: Where) -> Any:
    if "example" in param:
        return param["example"]
    schema, _ = api.refs.follow(param.get("schema"), where / "schema")
    if isinstance(schema, dict):
        for word in ("example", "default"):
            if word in schema:
                return schema[word]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
    return None


def skeleton(api: Api, node: Any, where: Where, name: str = "value", depth: int = 0) -> Any:
    """A value the schema accepts, as far as its required fields go."""
    node, where = api.refs.follow(node, where)
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return None
    for word in ("example", "default", "const"):
        if word in node:
            return node[word]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][0]
    if isinstance(node.get("allOf"), list):
        merged: dict[str, Any] = {}
        for i, part in enumerate(node["allOf"]):
            value = skeleton(api, part, where / "allOf" / i, name, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for word in ("oneOf", "anyOf"):
        if isinstance(node.get(word), list) and node[word]:
            return skeleton(api, node[word][0], where / word / 0, name, depth + 1)
    kind = node.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "object" or isinstance(node.get("properties"), dict):
        properties = node.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = node.get("required")
        return {key: skeleton(api, properties.get(key, {}), where / "properties" / key, key,
                              depth + 1)
                for key in (required if isinstance(required, list) else ()) if isinstance(key, str)}
    if kind == "string":
        return placeholder(name)
    return _EMPTY.get(str(kind))
