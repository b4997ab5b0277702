"""`runner datapills` of steps without a sample: paths, types and descriptions from the
operation's response schema."""

from __future__ import annotations

import json

from runner.cli import main
from tests.openapi.support import eventbrite_project

RECIPE = """kind: recipe
name: venue
trigger: {webhook: {}}
steps:
  - id: read
    request: {connection: eventbrite, method: GET, url: "/venues/{{ trigger.body.id }}/"}
  - id: skipped_check
    openapi: false
    request: {connection: eventbrite, method: GET, url: "/venues/{{ trigger.body.id }}/"}
  - id: last
    request: {method: POST, url: "https://x.example/", json: {a: "{{ steps.read.body.id }}"}}
"""


def test_paths_come_from_the_response_schema_with_types_and_descriptions(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, RECIPE))
    assert main(["datapills", "venue", ".", "--step", "last", "--format", "json"]) == 0
    rows = {row["path"]: row for row in json.loads(capsys.readouterr().out)}
    assert (rows["steps.read.body.id"]["type"], rows["steps.read.body.id"]["description"]) == (
        "string", "The venue's id")
    assert rows["steps.read.body.address.country"]["type"] == "string | null"
    assert rows["steps.read.status"]["example"] == "200"
    assert not any(path.startswith("steps.skipped_check") for path in rows)  # openapi: false
    assert main(["datapills", "venue", ".", "--step", "last"]) == 0
    captured = capsys.readouterr()
    assert "steps.read.body.id " in captured.out
    assert captured.err == ("23 datapill(s) available at step last of recipe venue, from "
                            "specs/eventbrite.yaml (GET /venues/{venue_id}/ response)\n")


def test_without_a_sample_or_a_description_nothing_is_known(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, RECIPE.replace("connection: eventbrite, ", "")
                                         .replace('"/venues/', '"https://x.example/venues/')))
    assert main(["datapills", "venue", "."]) == 1
    assert "or name the API's OpenAPI document in the connection" in capsys.readouterr().err
