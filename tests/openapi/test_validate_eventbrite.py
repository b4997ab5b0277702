"""`runner validate` of steps against the Eventbrite example's OpenAPI description: literal
values in the schema's words at their exact place, URLs, datapills, opt-out and --strict."""

from __future__ import annotations

import json
from pathlib import Path

from runner.cli import main
from tests.openapi.support import eventbrite_project, line_column

RECIPE = """kind: recipe
name: venue
vars: {organization: "1234567", capacity: many}
trigger:
  webhook: {path: venue}
steps:
  - id: create_venue
    request:
      connection: eventbrite
      method: POST
      url: /organizations/{{ vars.organization }}/venues/
      json:
        venue:
          name: "{{ trigger.body.venue }}"
          capacity: "{{ vars.capacity }}"
          nmae: Hall
          address: {country: USA, city: "{{ trigger.body.city }}"}
  - id: read
    request: {connection: eventbrite, method: GET, url: "/venues/{{ steps.create_venue.body.id }}/"}
  - id: typo
    request: {connection: eventbrite, method: GET, url: "/venues/{{ steps.read.body.nme }}/"}
  - id: wrong_method
    request: {connection: eventbrite, method: PUT, url: "/venues/{{ steps.read.body.id }}/"}
  - id: wrong_url
    request: {connection: eventbrite, method: GET, url: /venus/}
  - id: opted_out
    openapi: false
    request: {connection: eventbrite, method: GET, url: /nowhere/}
"""


def _validate(folder: Path, capsys, *extra: str) -> tuple[int, list[dict]]:
    code = main(["validate", str(folder), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _at(problems: list[dict], needle: str) -> dict:
    found = [p for p in problems if needle in p["message"]]
    assert len(found) == 1, (needle, problems)
    return found[0]


def test_a_three_letter_country_is_reported_in_the_schemas_words_at_its_place(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    code, problems = _validate(Path("."), capsys)
    assert code == 0  # warnings
    country = _at(problems, "'USA'")
    assert country["message"] == (
        "venue.address.country: 'USA' is longer than 2 characters "
        "(maxLength 2 in specs/eventbrite.yaml#/components/schemas/Address)")
    line, column = line_column(RECIPE, "USA")
    assert (country["file"], country["line"], country["column"]) == ("recipe.yaml", line, column)
    assert country["severity"] == "warning" and country["code"] == "openapi-json-value"


def test_an_unknown_property_is_reported_at_its_key_with_the_closest_name(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    _, problems = _validate(Path("."), capsys)
    extra = _at(problems, "'nmae'")
    assert extra["message"].startswith(
        "venue: 'nmae' is not a property it allows (did you mean 'name'?)")
    assert extra["message"].endswith(
        "(additionalProperties false in specs/eventbrite.yaml#/components/schemas/VenueCreate)")
    assert (extra["line"], extra["column"]) == line_column(RECIPE, "nmae")


def test_a_vars_constant_is_checked_and_unknown_datapills_are_not(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    _, problems = _validate(Path("."), capsys)
    capacity = _at(problems, "venue.capacity")
    assert capacity["message"] == ("venue.capacity: 'many' is a string, not an integer "
                                   "(type integer in specs/eventbrite.yaml#/components/schemas/"
                                   "VenueCreate)")
    assert capacity["line"] == line_column(RECIPE, "capacity: \"{{")[0]
    assert not [p for p in problems if p["message"].startswith(("venue.name:", "venue.address.city:"))]


def test_urls_and_methods_that_are_no_operation_name_the_closest(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    _, problems = _validate(Path("."), capsys)
    method = _at(problems, "PUT /venues/")
    assert method["message"] == ("PUT /venues/{{ steps.read.body.id }}/ is not an operation of "
                                 "specs/eventbrite.yaml: /venues/{venue_id}/ has GET")
    assert (method["line"], method["column"]) == line_column(RECIPE, '"/venues/{{ steps.read.body.id')
    url = _at(problems, "/venus/")
    assert url["message"].startswith("GET /venus/ matches no operation in specs/eventbrite.yaml; "
                                     "closest: GET /venues/{venue_id}/")
    assert url["code"] == "openapi-unknown-operation"
    assert not [p for p in problems if "/nowhere/" in p["message"]]  # openapi: false


def test_datapills_into_a_body_are_checked_against_the_response_schema(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    _, problems = _validate(Path("."), capsys)
    typo = _at(problems, "'nme'")
    assert typo["message"] == (
        "steps.read.body has no key 'nme' in specs/eventbrite.yaml (GET /venues/{venue_id}/ "
        "response) (did you mean 'name'?); it has: id, name, age_restriction, capacity, "
        "resource_uri, address")
    assert typo["code"] == "openapi-missing-key"
    assert (typo["line"], typo["column"]) == line_column(RECIPE, '"/venues/{{ steps.read.body.nme')


def test_a_recorded_sample_wins_over_the_response_schema(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "venue.json").write_text(json.dumps({"steps": {"read": {
        "status": 200, "headers": {}, "body": {"id": "1", "nme": "Hall"}}}}), encoding="utf-8")
    _, problems = _validate(Path("."), capsys)
    assert not [p for p in problems if "'nme'" in p["message"]]


def test_strict_makes_every_openapi_warning_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, RECIPE)
    code, problems = _validate(Path("."), capsys, "--strict")
    assert code == 1
    assert {p["severity"] for p in problems if p["code"].startswith("openapi")} == {"error"}


def test_the_example_recipes_match_their_description(capsys):
    assert main(["validate", "examples/eventbrite"]) == 0
    assert capsys.readouterr().out == ""


def test_a_folder_with_the_description_reads_only_the_runner_documents(tmp_path, capsys):
    eventbrite_project(tmp_path, "kind: recipe\nname: r\ntrigger: {webhook: {}}\nsteps: []\n")
    assert main(["validate", str(tmp_path)]) == 0
    assert "ok: 2 document(s) in 2 file(s)" in capsys.readouterr().err


FORM_SPEC = """openapi: 3.0.3
info: {title: forms, version: "1"}
servers: [{url: "https://www.eventbriteapi.com/v3"}]
paths:
  /tickets/:
    post:
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              additionalProperties: false
              properties:
                quantity: {type: integer, maximum: 10}
                note: {type: string}
      responses: {"200": {description: ok}}
"""

FORM_RECIPE = """kind: recipe
name: tickets
trigger: {webhook: {}}
steps:
  - id: buy
    request:
      connection: eventbrite
      method: POST
      url: /tickets/
      form: {quantity: "12", note: "{{ trigger.body.note }}", colour: red, "{{ trigger.body.k }}": x}
"""


def test_form_fields_are_read_as_text_on_the_wire_and_each_unknown_key_is_reported(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "form.yaml"
    spec.write_text(FORM_SPEC)
    eventbrite_project(tmp_path, FORM_RECIPE, spec=spec)
    _, problems = _validate(Path("."), capsys)
    assert [(p["message"].split(" (")[0], p["column"]) for p in problems] == [
        ("quantity: 12 is greater than 10", line_column(FORM_RECIPE, '"12"')[1]),
        ("the body: 'colour' is not a property it allows; it allows: quantity, note",
         line_column(FORM_RECIPE, "colour")[1]),
    ]


POLL = """kind: recipe
name: venues
trigger:
  poll:
    connection: eventbrite
    every: 5m
    request: {method: GET, url: /organizations/1/venue/}
    records: "{{ response.body.venues }}"
    key: "{{ record.id }}"
steps: []
"""


def test_poll_requests_and_connection_tests_are_checked_too(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, POLL)
    connection = tmp_path / "eventbrite.yaml"
    connection.write_text(connection.read_text() + "test: {method: POST, url: /users/me/}\n")
    _, problems = _validate(Path("."), capsys)
    assert [(p["file"], p["line"], p["message"].split(";")[0]) for p in problems] == [
        ("eventbrite.yaml", 5, ("POST /users/me/ is not an operation of specs/eventbrite.yaml: "
                               "/users/me/ has GET")),
        ("recipe.yaml", 7, ("GET /organizations/1/venue/ matches no operation in "
                           "specs/eventbrite.yaml")),
    ]


WORDS = """kind: recipe
name: words
trigger: {webhook: {}}
steps:
  - id: create_venue
    request:
      connection: eventbrite
      method: POST
      url: /organizations/1/venues/
      json:
        venue:
          age_restriction: NONE
          address: {country: G}
"""


def test_required_enum_and_min_length_are_said_in_the_schemas_words(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    eventbrite_project(tmp_path, WORDS)
    _, problems = _validate(Path("."), capsys)
    assert [(p["line"], p["column"], p["message"]) for p in problems] == [
        (*line_column(WORDS, "age_restriction"),
         ("venue: 'name' is required but missing "
         "(required in specs/eventbrite.yaml#/components/schemas/VenueCreate)")),
        (*line_column(WORDS, "NONE"),
         ("venue.age_restriction: 'NONE' is not one of 'AGE_RESTRICTION_ALL_AGES', "
         "'AGE_RESTRICTION_MIN_EIGHTEEN', 'AGE_RESTRICTION_MIN_TWENTY_ONE' "
         "(enum in specs/eventbrite.yaml#/components/schemas/VenueCreate)")),
        (*line_column(WORDS, "G}"),
         ("venue.address.country: 'G' is shorter than 2 characters "
         "(minLength 2 in specs/eventbrite.yaml#/components/schemas/Address)")),
    ]
