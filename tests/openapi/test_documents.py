"""Reading OpenAPI documents: broken ones give located errors (never a crash), `$ref`s resolve
from local files only, and what was parsed is cached on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli import main
from runner.openapi import cache, parse
from runner.openapi.document import load_document
from tests.openapi.support import CONNECTION, line_column

RECIPE = """kind: recipe
name: r
trigger: {webhook: {}}
steps:
  - id: venue
    request: {connection: eventbrite, method: GET, url: /venues/1/}
"""


def _project(folder: Path, spec: str, name: str = "eventbrite.yaml") -> None:
    (folder / "specs").mkdir(exist_ok=True)
    (folder / "specs" / name).write_text(spec, encoding="utf-8")
    (folder / "eventbrite.yaml").write_text(CONNECTION.replace("eventbrite.yaml", name),
                                            encoding="utf-8")
    (folder / "recipe.yaml").write_text(RECIPE, encoding="utf-8")


def _problems(folder: Path, capsys, monkeypatch) -> tuple[int, list[dict]]:
    monkeypatch.chdir(folder)
    code = main(["validate", ".", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


VALID = """openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /venues/{id}/:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "schemas/venue.yaml#/Venue"}
"""


def test_a_document_that_is_not_openapi_is_an_error_at_its_place_with_its_path(
        tmp_path, capsys, monkeypatch):
    spec = VALID.replace("      responses:\n", "      answers:\n")
    _project(tmp_path, spec)
    (tmp_path / "specs" / "schemas").mkdir()
    (tmp_path / "specs" / "schemas" / "venue.yaml").write_text("Venue: {type: object}\n")
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 1
    messages = {p["message"]: p for p in problems}
    required = messages["paths./venues/{id}/.get: 'responses' is a required property"]
    assert (required["file"], required["line"], required["column"]) == (
        "specs/eventbrite.yaml", *line_column(spec, "parameters:"))
    assert required["code"] == "openapi-invalid" and required["severity"] == "error"


@pytest.mark.parametrize("text, message, needle", [
    ("openapi: 3.0.3\ninfo: {title: [\n", "invalid YAML", None),
    ("swagger: '2.0'\ninfo: {}\n", "Swagger 2.0 is not supported", "'2.0'"),
    ("openapi: 2.5.0\ninfo: {}\n", "OpenAPI 2.5.0 is not supported", "2.5.0"),
    ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: []\n", "[] is not of type 'object'",
     "[]"),
])
def test_a_broken_document_is_a_located_error_not_a_crash(
        tmp_path, capsys, monkeypatch, text, message, needle):
    _project(tmp_path, text)
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 1
    [problem] = [p for p in problems if p["file"] == "specs/eventbrite.yaml"]
    assert message in problem["message"]
    if needle is not None:
        assert (problem["line"], problem["column"]) == line_column(text, needle)


def test_a_url_ref_is_refused_at_its_place_and_nothing_is_fetched(tmp_path, capsys, monkeypatch):
    spec = VALID.replace("schemas/venue.yaml#/Venue", "https://127.0.0.1:9/venue.json")
    _project(tmp_path, spec)
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 1
    [problem] = problems
    assert "is a URL: validate never fetches anything" in problem["message"]
    assert (problem["line"], problem["column"]) == line_column(spec, '"https://')


def test_refs_to_local_files_resolve_and_missing_ones_are_located(tmp_path, capsys, monkeypatch):
    _project(tmp_path, VALID)
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 1
    [problem] = problems
    assert problem["message"].endswith("$ref 'schemas/venue.yaml#/Venue': schemas/venue.yaml "
                                       "cannot be read")
    (tmp_path / "specs" / "schemas").mkdir()
    (tmp_path / "specs" / "schemas" / "venue.yaml").write_text(
        "Venue:\n  type: object\n  properties: {id: {type: string}}\n")
    (tmp_path / "recipe.yaml").write_text(RECIPE + """  - id: use
    request: {method: GET, url: "https://x.example/{{ steps.venue.body.idd }}"}
""")
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert [p["message"] for p in problems] == [
        ("steps.venue.body has no key 'idd' in specs/eventbrite.yaml (GET /venues/{id}/ response) "
        "(did you mean 'id'?); it has: id")]


def test_a_missing_local_pointer_is_located(tmp_path, capsys, monkeypatch):
    spec = VALID.replace("schemas/venue.yaml#/Venue", "#/components/schemas/Nothing")
    _project(tmp_path, spec)
    _, problems = _problems(tmp_path, capsys, monkeypatch)
    [problem] = problems
    assert "points at nothing in this document" in problem["message"]
    assert (problem["line"], problem["column"]) == line_column(spec, '"#/components')


def test_a_document_over_the_size_bound_is_refused_before_it_is_read(
        tmp_path, capsys, monkeypatch):
    _project(tmp_path, VALID + "x-padding: " + "a" * 2000 + "\n")
    monkeypatch.setattr(parse, "MAX_BYTES", 1024)
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 1
    assert "at most 0 MiB is read" in problems[0]["message"]
    assert problems[0]["file"] == "specs/eventbrite.yaml"


def test_a_missing_document_is_an_error_at_the_connections_value(tmp_path, capsys, monkeypatch):
    _project(tmp_path, VALID)
    (tmp_path / "specs" / "eventbrite.yaml").unlink()
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 1
    [problem] = problems
    assert problem["message"] == ("openapi: specs/eventbrite.yaml is not a file "
                                  "(looked for specs/eventbrite.yaml)")
    assert (problem["file"], problem["line"], problem["column"]) == (
        "eventbrite.yaml", *line_column(CONNECTION, "specs/"))


def test_a_parsed_document_is_cached_on_disk_and_a_broken_cache_is_ignored(
        tmp_path, monkeypatch):
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "api.yaml"
    path.write_text(VALID.replace("schemas/venue.yaml#/Venue", "#/info"), encoding="utf-8")
    first = load_document(path, "api.yaml")
    assert first.usable
    [entry] = list((tmp_path / "cache" / "openapi").iterdir())
    assert cache.read(entry.name.split("-")[0]) is not None
    entry.write_bytes(b"not JSON")
    path.write_text(path.read_text() + "# edited\n")  # a new stamp: read again
    assert load_document(path, "api.yaml").usable


NONSENSE = """openapi: 3.1.0
info: {title: weird, version: "1"}
paths:
  /venues/{id}/:
    parameters: [{name: id, in: path, required: true, schema: {type: 5}}]
    get:
      parameters:
        - {name: q, in: query, schema: {type: [string, 7], pattern: "(unclosed"}}
        - {name: h, in: header, schema: {$ref: "#/components/schemas/Loop"}}
      requestBody:
        content:
          application/json:
            schema: {allOf: 3, oneOf: [{}, 5], properties: {a: 9}, items: [1], required: yes}
      responses:
        "200":
          description: x
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Loop"}
components:
  schemas:
    Loop: {$ref: "#/components/schemas/Loop2"}
    Loop2: {$ref: "#/components/schemas/Loop"}
"""


def test_schemas_that_make_no_sense_never_crash_validate(tmp_path, capsys, monkeypatch):
    _project(tmp_path, NONSENSE)
    (tmp_path / "recipe.yaml").write_text("""kind: recipe
name: r
trigger: {webhook: {}}
steps:
  - id: venue
    request:
      connection: eventbrite
      method: GET
      url: /venues/1/
      params: {q: abc}
      headers: {h: "1"}
      json: {a: 1, b: [1, {c: 2}]}
  - id: use
    request: {method: GET, url: "https://x.example/{{ steps.venue.body.a.b }}"}
""")
    code, problems = _problems(tmp_path, capsys, monkeypatch)
    assert code == 0 and problems == []
