"""The JSON Schema of both document kinds, generated from the models (never written by hand)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from runner.recipe.models import ConnectionSpec, DocumentSpec, RecipeSpec

SCHEMA_ID = "https://runner.dev/schemas/runner.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def document_schema() -> dict[str, Any]:
    """One schema that accepts a connection or a recipe document (chosen by `kind`)."""
    schema = TypeAdapter(DocumentSpec).json_schema(by_alias=True, mode="validation")
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "runner document (kind: connection | recipe), recipe language version 1",
        **schema,
    }


def kind_schema(kind: str) -> dict[str, Any]:
    """The schema of one kind alone, for editors that map file patterns to schemas."""
    model: type[ConnectionSpec] | type[RecipeSpec] = (
        ConnectionSpec if kind == "connection" else RecipeSpec
    )
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": DIALECT, "$id": SCHEMA_ID.replace("runner.", f"{kind}."), **schema}


def schema_files() -> dict[str, str]:
    """Every committed file under `schemas/`, by name, exactly as `runner schema --write` writes it."""
    return {
        "runner.schema.json": dump(document_schema()),
        "connection.schema.json": dump(kind_schema("connection")),
        "recipe.schema.json": dump(kind_schema("recipe")),
    }


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
