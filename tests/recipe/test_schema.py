"""The committed JSON Schemas are exactly what `runner schema` generates, and they work."""

import json
from pathlib import Path

import jsonschema
import pytest

from runner.cli import main
from runner.recipe.loader import is_api_description, load_paths
from runner.recipe.schema import SCHEMA_ID, schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_schemas_folder_holds_exactly_what_runner_schema_prints(capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    committed = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "schemas").iterdir()}
    assert committed == {"runner.schema.json": printed}, (
        "schemas/ is stale: run `runner schema --write schemas`"
    )


def test_schema_write_writes_the_printed_schema_and_nothing_else(tmp_path, capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert main(["schema", "--write", str(tmp_path / "out")]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir()}
    assert written == {"runner.schema.json": printed}
    assert json.loads(printed)["$id"] == SCHEMA_ID
    assert SCHEMA_ID == "https://runner.dev/schemas/runner.schema.json"


def test_runner_schema_prints_the_combined_schema(capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed)


def _documents():
    for folder in ("recipes", "examples"):
        for loaded in load_paths([str(ROOT / folder)]).documents:
            yield pytest.param(loaded.source.data, id=f"{folder}:{loaded.spec.name}")


@pytest.mark.parametrize("document", list(_documents()))
def test_every_bundled_document_passes_the_schema(document):
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator(schema).validate(document)


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "recipe", "name": "r", "trigger": {"webhook": {}}, "stepz": []},
        {"kind": "connection", "name": "Bad Name"},
        {"kind": "connection", "name": "c", "auth": {"type": "bearer"}},
        {"kind": "recipe", "name": "r", "trigger": {"webhook": {"max_body": "lots"}}},
    ],
)
def test_schema_rejects_what_the_validator_rejects(document):
    schema = json.loads(schema_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)


def test_bundled_files_point_editors_at_the_schema():
    for path in list((ROOT / "recipes").rglob("*.yaml")) + list((ROOT / "examples").rglob("*.yaml")):
        if is_api_description(path):  # an OpenAPI document a connection names: not ours
            continue
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target == (ROOT / "schemas" / "runner.schema.json").resolve(), path
