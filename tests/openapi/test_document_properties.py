"""Property: whatever a description holds, validate answers with located problems, never a
crash, and every problem's line is inside the file it names."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runner.commands.validate import check

CONNECTION = """kind: connection
name: api
base_url: https://api.example.com/v1
openapi: api.json
"""

RECIPE = """kind: recipe
name: r
trigger: {webhook: {}}
steps:
  - id: a
    request:
      connection: api
      method: POST
      url: /items/{{ trigger.body.id }}
      params: {q: x, n: "3"}
      headers: {X-Mode: fast}
      json: {name: Ada, tags: [a, 1], nested: {deep: null}}
  - id: b
    request: {method: GET, url: "https://x.example/{{ steps.a.body.id.name[0] }}"}
"""

_keys = st.sampled_from(["type", "properties", "items", "required", "$ref", "allOf", "oneOf",
                         "enum", "maxLength", "pattern", "nullable", "additionalProperties",
                         "schema", "in", "name", "content", "application/json", "200"])
_refs = st.sampled_from(["#/components/schemas/A", "#/nowhere", "other.json#/x", "#", "#/paths"])
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=4), _refs,
                    st.sampled_from(["object", "array", "string", "integer", "(unclosed"]))
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)), max_leaves=25)


_schemas = st.one_of(st.dictionaries(_keys, _values, max_size=4),
                     st.fixed_dictionaries({"$ref": _refs}))


@st.composite
def descriptions(draw: st.DrawFn) -> dict:
    """Well-formed operations (so the checks run, not only the meta-schema) around schemas that
    are anything: 3.1's meta-schema does not look inside schemas."""
    json_body = {"application/json": {"schema": draw(_schemas)}}
    operation = {"parameters": [{"name": "q", "in": "query", "schema": draw(_schemas)},
                                {"name": "X-Mode", "in": "header", "schema": draw(_schemas)}],
                 "requestBody": {"content": json_body},
                 "responses": {"200": {"description": "x", "content": {
                     "application/json": {"schema": draw(_schemas)}}}}}
    if draw(st.booleans()):
        operation = draw(st.dictionaries(st.sampled_from(
            ["parameters", "requestBody", "responses", "operationId"]), _values, max_size=4))
    return {"openapi": draw(st.sampled_from(["3.1.0", "3.1.0", "3.0.3"])),
            "info": {"title": "t", "version": "1"},
            "servers": draw(st.sampled_from([[], [{"url": "https://api.example.com/v1"}]])),
            "paths": {"/items/{id}": {"post": operation}},
            "components": {"schemas": {"A": draw(_schemas)}}}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=descriptions())
@example(document={  # found by this test: a keyword whose value is not what it should be
    "openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/items/{id}": {"post": {
        "parameters": [{"name": "X-Mode", "in": "header",
                        "schema": {"$ref": "#/components/schemas/A"}}],
        "responses": {"200": {"description": "x"}}}}},
    "components": {"schemas": {"A": {"enum": {}, "required": "q", "maxLength": "x"}}}})
@example(document={  # found by this test: types that are not names, a $ref no file can have
    "openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/items/{id}": {"post": {
        "responses": {"200": {"description": "x", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/A"}}}}}}}},
    "components": {"schemas": {"A": {"type": [[]], "items": {"$ref": "\x00"}}}}})
def test_any_description_gives_located_problems_never_a_crash(document, tmp_path: Path,
                                                                monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "api.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    (tmp_path / "api.yaml").write_text(CONNECTION, encoding="utf-8")
    (tmp_path / "r.yaml").write_text(RECIPE, encoding="utf-8")
    _, diagnostics = check(["."])
    for problem in diagnostics:
        lines = (tmp_path / problem.location.file).read_text().count("\n") + 1
        assert 1 <= problem.location.line <= lines, problem
