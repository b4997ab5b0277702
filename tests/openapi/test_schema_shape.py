"""Response schemas as shapes: allOf merges, oneOf/anyOf alternatives, nullable, open objects,
recursion."""

from __future__ import annotations

from pathlib import Path

import yaml

from runner.openapi.document import load_document
from runner.openapi.refs import Refs, Where
from runner.openapi.schema_shape import SchemaShape
from runner.samples.walk import first_problem

SCHEMAS = {
    "Named": {"type": "object", "properties": {"name": {"type": "string"}}},
    "Dated": {"allOf": [{"$ref": "#/components/schemas/Named"},
                        {"properties": {"at": {"type": "string", "nullable": True}}}]},
    "Either": {"oneOf": [{"$ref": "#/components/schemas/Named"},
                         {"type": "object", "properties": {"id": {"type": "integer"}}}]},
    "Mixed": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "Open": {"type": "object"},
    "Map": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Named"}},
    "Tree": {"type": "object", "properties": {
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}},
}


def _shape(tmp_path: Path, name: str) -> SchemaShape:
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                                    "paths": {}, "components": {"schemas": SCHEMAS}}))
    document = load_document(path, "api.yaml")
    assert document.usable, document.problems
    refs = Refs(document, "api.yaml")
    return SchemaShape(refs, [({"$ref": f"#/components/schemas/{name}"}, Where(document.uri))])


def test_all_of_parts_are_one_object(tmp_path):
    shape = _shape(tmp_path, "Dated")
    assert shape.kind == "object" and list(shape.keys() or ()) == ["name", "at"]
    at = shape.child("at")
    assert at is not None and at.type_name == "string | null"
    assert first_problem(shape, "x", ["nme"]).kind == "missing-key"


def test_one_of_branches_are_alternatives(tmp_path):
    shape = _shape(tmp_path, "Either")
    assert shape.kind == "object"
    assert first_problem(shape, "x", ["id"]) is None
    assert first_problem(shape, "x", ["name"]) is None
    assert first_problem(shape, "x", ["other"]) is not None


def test_branches_of_different_kinds_claim_nothing(tmp_path):
    assert _shape(tmp_path, "Mixed").kind == "unknown"


def test_open_objects_and_maps_accept_any_key(tmp_path):
    assert first_problem(_shape(tmp_path, "Open"), "x", ["anything", "below"]) is None
    mapped = _shape(tmp_path, "Map")
    assert first_problem(mapped, "x", ["any", "name"]) is None
    assert first_problem(mapped, "x", ["any", "nme"]).kind == "missing-key"


def test_recursive_schemas_are_walked_lazily(tmp_path):
    tree = _shape(tmp_path, "Tree")
    path = ["children", 0] * 50 + ["leaves"]
    problem = first_problem(tree, "x", path)
    assert problem is not None and problem.key == "leaves"
