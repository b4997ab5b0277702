"""The JSON Schema of both document kinds, generated from the models (never written by hand)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from runner.recipe.models import DocumentSpec

SCHEMA_ID = "https://runner.dev/schemas/runner.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The one file under `schemas/`: exactly what `runner schema` prints (a drift test checks it).
SCHEMA_FILE = "runner.schema.json"


def document_schema() -> dict[str, Any]:
    """One schema that accepts a connection or a recipe document (chosen by `kind`).

    One schema, not one per kind: a file may hold documents of both kinds, and editors (the
    `# yaml-language-server: $schema=` line) take one schema per file.
    """
    schema = TypeAdapter(DocumentSpec).json_schema(by_alias=True, mode="validation")
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "runner document (kind: connection | recipe), recipe language version 1",
        **schema,
    }


def schema_text() -> str:
    """What `runner schema` prints and `schemas/runner.schema.json` holds, byte for byte."""
    return json.dumps(document_schema(), indent=2, sort_keys=True) + "\n"
