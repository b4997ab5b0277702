"""`runner import openapi`: a step from an operation of the connection's description, and the
list of its operations. Nothing is sent."""

from __future__ import annotations

from runner.cli import main
from tests.openapi.support import eventbrite_project

EMPTY = "kind: recipe\nname: r\ntrigger: {webhook: {}}\nsteps: []\n"


def test_a_step_from_an_operation_id_uses_the_operations_example(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, EMPTY))
    assert main(["import", "openapi", "eventbrite", "createVenue", "."]) == 0
    assert capsys.readouterr().out == """\
# POST /organizations/{organization_id}/venues/: Create a venue of an organization (operationId createVenue)
# {{ trigger.body.* }} are placeholders: put the datapills your recipe has
- id: create_venue
  request:
    connection: eventbrite
    method: POST
    url: /organizations/{{ trigger.body.organization_id }}/venues/
    json:
      venue:
        name: Ada's Hall
        address:
          address_1: 1 Main Street
          city: London
          country: GB
"""


def test_without_an_example_the_body_holds_the_schemas_required_fields(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, EMPTY))
    spec = tmp_path / "specs" / "eventbrite.yaml"
    text = spec.read_text()
    start = text.index("            example:\n              venue:")
    end = text.index("      responses:", start)
    spec.write_text(text[:start] + text[end:])
    assert main(["import", "openapi", "eventbrite", ("POST /organizations/{organization_id}/"
                 "venues/"), ".", "--id", "venue"]) == 0
    out = capsys.readouterr().out
    assert "- id: venue\n" in out
    assert out.endswith("    json:\n      venue:\n        name: '{{ trigger.body.name }}'\n")


def test_list_and_search_show_the_operations(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, EMPTY))
    assert main(["import", "openapi", "eventbrite", "--list", "."]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 5 and listed[0].split() == ["GET", "/users/me/", "getMe", "The",
                                                      "authorized", "user"]
    assert main(["import", "openapi", "eventbrite", "--search", "venue", "."]) == 0
    assert [line.split()[2] for line in capsys.readouterr().out.splitlines()] == [
        "listOrganizationVenues", "createVenue", "getVenue"]


def test_an_unknown_operation_or_connection_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, EMPTY))
    assert main(["import", "openapi", "eventbrite", "createVenu", "."]) == 2
    assert "has no operation 'createVenu'" in capsys.readouterr().err
    assert main(["import", "openapi", "nope", "createVenue", "."]) == 2
    assert "no connection named 'nope'" in capsys.readouterr().err


def test_a_broken_description_is_reported_not_imported(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(eventbrite_project(tmp_path, EMPTY))
    (tmp_path / "specs" / "eventbrite.yaml").write_text("openapi: 3.0.3\npaths: {}\n")
    assert main(["import", "openapi", "eventbrite", "createVenue", "."]) == 1
    assert "specs/eventbrite.yaml:1:1: (the document): 'info' is a required property" in \
        capsys.readouterr().err
