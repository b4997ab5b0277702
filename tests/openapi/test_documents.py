"""OpenAPI documents beside connections: the checks validate makes with them, each problem
located, and documents that are broken, huge, or point at the network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.cli import main
from runner.openapi import document as documents

ROOT = Path(__file__).resolve().parents[2]

CONNECTION = """kind: connection
name: api
base_url: https://api.example.com/v2
openapi: specs/api.yaml
"""

SPEC = """openapi: 3.0.3
info: {title: Shop, version: "1"}
servers: [{url: "https://api.example.com/v2"}]
paths:
  /orders/{order_id}:
    parameters:
      - {name: order_id, in: path, required: true, schema: {type: string}}
    get:
      operationId: getOrder
      responses:
        "200":
          description: the order
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewOrder"}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
components:
  schemas:
    NewOrder:
      type: object
      required: [sku, quantity]
      properties:
        sku: {type: string, pattern: "^[A-Z]{3}-[0-9]+$"}
        quantity: {type: integer, minimum: 1}
        note: {type: string, maxLength: 10}
        ship_to: {$ref: "common.yaml#/Address"}
    Order:
      type: object
      properties:
        id: {type: integer}
        sku: {type: string}
        total: {type: number, description: What the order costs}
"""

COMMON = """Address:
  type: object
  properties:
    country: {type: string, maxLength: 2}
"""


def project(tmp_path: Path, recipe: str, spec: str = SPEC) -> Path:
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "api.yaml").write_text(spec, encoding="utf-8")
    (tmp_path / "specs" / "common.yaml").write_text(COMMON, encoding="utf-8")
    (tmp_path / "api.yaml").write_text(CONNECTION, encoding="utf-8")
    (tmp_path / "recipe.yaml").write_text(recipe, encoding="utf-8")
    return tmp_path


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def validate(folder: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, list[str]]:
    code = main(["validate", str(folder), *flags])
    out = capsys.readouterr().out
    return code, [line.replace(str(folder) + "/", "") for line in out.splitlines()]


def recipe(steps: str) -> str:
    return f"kind: recipe\nname: shop\ntrigger: {{webhook: {{}}}}\nsteps:\n{steps}"


def test_values_are_checked_against_schemas_across_files(tmp_path: Path, capsys) -> None:
    folder = project(tmp_path, recipe("""\
  - id: order
    request:
      connection: api
      method: POST
      url: /orders
      json:
        sku: abc
        quantity: 0
        note: "{{ trigger.body.note }}"
        ship_to: {country: USA}
        gift: true
"""))
    code, lines = validate(folder, capsys)
    assert code == 0
    assert lines == [
        "recipe.yaml:11:14: warning: step order: sku: 'abc' does not match '^[A-Z]{3}-[0-9]+$' "
        "(pattern in specs/api.yaml#/components/schemas/NewOrder)",
        "recipe.yaml:12:19: warning: step order: quantity: 0 is less than the minimum of 1 "
        "(minimum 1 in specs/api.yaml#/components/schemas/NewOrder)",
        "recipe.yaml:14:28: warning: step order: ship_to.country: 'USA' is longer than 2 "
        "characters (maxLength 2 in specs/common.yaml#/Address)",
    ]  # the templated note is skipped; `gift` is allowed (the schema does not forbid more)


def test_urls_methods_and_the_opt_out(tmp_path: Path, capsys) -> None:
    folder = project(tmp_path, recipe("""\
  - id: fetch
    request: {connection: api, method: GET, url: "/orders/{{ trigger.body.id }}"}
  - id: wrong_method
    request: {connection: api, method: DELETE, url: /orders/7}
  - id: wrong_path
    request: {connection: api, method: GET, url: /order/7}
  - id: literal_segment_templated
    request: {connection: api, method: POST, url: "/{{ trigger.body.kind }}", json: {}}
  - id: skipped
    openapi: false
    request: {connection: api, method: GET, url: /nowhere}
  - id: absolute
    request: {connection: api, method: GET, url: "https://api.example.com/v2/orders/9"}
"""))
    code, lines = validate(folder, capsys)
    assert lines == [
        "recipe.yaml:8:53: warning: step wrong_method: DELETE /orders/7 is not an operation of "
        "the document: /orders/{order_id} has GET (specs/api.yaml)",
        "recipe.yaml:10:50: warning: step wrong_path: GET /order/7 is not an operation of the "
        "document; the closest: POST /orders, GET /orders/{order_id} (specs/api.yaml)",
        "recipe.yaml:12:51: warning: step literal_segment_templated: POST /{...} is not an "
        "operation of the document (specs/api.yaml)",
    ]
    code, strict = validate(folder, capsys, "--strict")
    assert code == 1 and len(strict) == 3


def test_datapills_without_a_sample_are_walked_down_the_response_schema(
    tmp_path: Path, capsys
) -> None:
    folder = project(tmp_path, recipe("""\
  - id: fetch
    request: {connection: api, method: GET, url: "/orders/{{ trigger.body.id }}"}
  - id: again
    request:
      connection: api
      method: POST
      url: /orders
      json: {sku: "{{ steps.fetch.body.sku }}", quantity: "{{ steps.fetch.body.totl }}",
             note: "{{ steps.fetch.body.total }}"}
"""))
    _, lines = validate(folder, capsys)
    assert lines == [
        "recipe.yaml:12:59: warning: steps.fetch.body has no key 'totl' in specs/api.yaml "
        "(GET /orders/{order_id}) (did you mean 'total'?); it has: id, sku, total",
        "recipe.yaml:13:20: warning: step again: note: {{ steps.fetch.body.total }} is not of "
        "type string (type string in specs/api.yaml#/components/schemas/NewOrder)",
    ]
    assert main(["datapills", "shop", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "steps.fetch.body.total" in out and "What the order costs" in out


def test_a_sample_value_is_checked_as_the_value(tmp_path: Path, capsys) -> None:
    folder = project(tmp_path, recipe("""\
  - id: order
    request:
      connection: api
      method: POST
      url: /orders
      json: {sku: "{{ trigger.body.sku }}", quantity: 1}
"""))
    (folder / "samples").mkdir()
    (folder / "samples" / "shop.json").write_text(json.dumps(
        {"trigger": {"body": {"sku": "abc"}}, "steps": {}}), encoding="utf-8")
    _, lines = validate(folder, capsys)
    assert lines == [
        "recipe.yaml:10:19: warning: step order: sku: {{ trigger.body.sku }} ('abc' in the "
        "sample) does not match '^[A-Z]{3}-[0-9]+$' (pattern in "
        "specs/api.yaml#/components/schemas/NewOrder)"]


@pytest.mark.parametrize(("spec", "expected"), [
    ("openapi: 3.0.3\ninfo: {title: x\n", "specs/api.yaml:3:1: specs/api.yaml: not valid YAML"),
    ("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      summary: s\n",
     "specs/api.yaml:6:7: specs/api.yaml: paths./a.get: not valid OpenAPI 3.0.3: 'responses' is "
     "a required property"),
    ("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n"
     "    A: {$ref: 'https://example.com/a.yaml#/A'}\n",
     "specs/api.yaml:6:9: specs/api.yaml: components.schemas.A.$ref: $ref "
     "'https://example.com/a.yaml#/A' points at the network"),
    ("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n"
     "    A: {$ref: '#/components/schemas/B'}\n",
     "specs/api.yaml:6:9: specs/api.yaml: components.schemas.A.$ref: $ref "
     "'#/components/schemas/B' does not resolve"),
    ("swagger: '2.0'\n", None),  # not read: the loader skips it, the connection cannot use it
    ("openapi: '2.0'\n", "specs/api.yaml:1:1: specs/api.yaml: OpenAPI 2.0 is not supported"),
])
def test_a_broken_document_is_a_located_error(tmp_path: Path, capsys, spec: str,
                                              expected: str | None) -> None:
    folder = project(tmp_path, recipe("  - id: a\n    request: {connection: api, url: /a}\n"),
                     spec=spec)
    code, lines = validate(folder, capsys)
    if expected is None:
        assert code == 1 and any("not an OpenAPI document" in line for line in lines), lines
        return
    assert code == 1
    assert any(line.startswith(expected) for line in lines), lines


def test_a_missing_or_huge_document_is_a_located_error(tmp_path: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project(tmp_path, recipe("  - id: a\n    request: {connection: api, url: /a}\n"))
    monkeypatch.setattr(documents, "MAX_BYTES", 100)
    code, lines = validate(folder, capsys)
    assert code == 1 and lines[0].startswith("specs/api.yaml:1:1: specs/api.yaml: the document "
                                             "is larger than 0 MiB: not read"), lines
    (folder / "specs" / "api.yaml").unlink()
    code, lines = validate(folder, capsys)
    assert code == 1 and lines[0] == ("api.yaml:4:10: connection api: there is no OpenAPI "
                                      "document specs/api.yaml beside api.yaml")


def test_the_cache_keeps_what_was_found_and_survives_a_broken_entry(tmp_path: Path, cache: Path,
                                                                   capsys) -> None:
    folder = project(tmp_path, recipe("  - id: a\n    request: {connection: api, url: /a}\n"),
                     spec=SPEC.replace("operationId: getOrder", "operationId: getOrder\n      x: 1"))
    first = validate(folder, capsys)
    entries = list((cache / "openapi").glob("*.pickle"))
    assert len(entries) == 1
    entries[0].write_bytes(b"not a pickle")
    documents_read = validate(folder, capsys)
    assert first == documents_read and first[0] == 1  # `x` is not an OpenAPI key: an error


def test_the_eventbrite_example_is_clean_and_catches_a_three_letter_country(
    tmp_path: Path, capsys
) -> None:
    example = shutil.copytree(ROOT / "examples" / "eventbrite", tmp_path / "eventbrite")
    code, lines = validate(example, capsys)
    assert code == 0 and lines == []
    text = (example / "eventbrite.yaml").read_text(encoding="utf-8")
    (example / "eventbrite.yaml").write_text(text.replace(
        'country: "{{ trigger.body.country | upper }}"', "country: USA"), encoding="utf-8")
    code, lines = validate(example, capsys)
    assert "eventbrite.yaml:70:22: warning: step create_venue: venue.address.country: 'USA' is " \
        "longer than 2 characters (maxLength 2 in " \
        "specs/eventbrite.yaml#/components/schemas/Address)" in lines, lines


def test_import_builds_a_body_from_the_required_properties(tmp_path: Path, capsys) -> None:
    folder = project(tmp_path, recipe("  - id: a\n    request: {connection: api, url: /orders}\n"))
    assert main(["import", "openapi", "api", "createOrder", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "url: /orders\n    json:\n      sku: ''\n      quantity: 0\n" in out
    assert main(["import", "openapi", "api", "GET /orders/{order_id}", str(folder)]) == 0
    assert "url: /orders/{{ trigger.body.order_id }}" in capsys.readouterr().out
