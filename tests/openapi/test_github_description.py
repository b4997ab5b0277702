"""The GitHub REST description (13 MB, npm `@octokit/openapi`): import of a handful of
operations, validate of recipes against it with exact locations, datapills from its schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from runner.cli import main
from tests.openapi.support import github_description, line_column

OPERATIONS = ["issues/create", "search/issues-and-pull-requests", "repos/get",
              "pulls/create", "GET /user", "issues/create-comment"]


@pytest.fixture
def github(tmp_path: Path, monkeypatch) -> Path:
    description = github_description()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "github.yaml").write_text(f"""kind: connection
name: github
base_url: https://api.github.com
headers: {{Accept: application/vnd.github+json}}
openapi: {description}
""", encoding="utf-8")
    return tmp_path


def _import(capsys, operation: str) -> dict:
    assert main(["import", "openapi", "github", operation, "github.yaml"]) == 0
    [step] = yaml.safe_load(capsys.readouterr().out)
    return step


def test_import_writes_steps_for_a_handful_of_operations(github, capsys):
    create = _import(capsys, "issues/create")
    assert create["id"] == "issues_create"
    assert create["request"]["method"] == "POST"
    assert create["request"]["url"] == ("/repos/{{ trigger.body.owner }}/"
                                        "{{ trigger.body.repo }}/issues")
    assert create["request"]["json"]["title"] == "Found a bug"  # the operation's example
    search = _import(capsys, "search/issues-and-pull-requests")
    assert search["request"]["params"] == {"q": "{{ trigger.body.q }}"}  # required only
    me = _import(capsys, "GET /user")
    assert me["request"] == {"connection": "github", "method": "GET", "url": "/user"}


def test_imported_steps_validate_without_a_warning(github, capsys):
    steps = [_import(capsys, operation) for operation in OPERATIONS]
    recipe = {"kind": "recipe", "name": "imported", "trigger": {"webhook": {}}, "steps": steps}
    (github / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    assert main(["validate", ".", "--strict"]) == 0, capsys.readouterr()


RECIPE = """kind: recipe
name: triage
trigger:
  webhook: {path: triage}
steps:
  - id: create_issue
    request:
      connection: github
      method: POST
      url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}/issues
      json:
        title: "{{ trigger.body.title }}"
        labels: bug
  - id: comment
    request:
      connection: github
      method: POST
      url: /repos/octocat/hello/issues/{{ steps.create_issue.body.number }}/comments
      json: {body: "Thanks {{ steps.create_issue.body.user.logn }}"}
  - id: search
    request:
      connection: github
      method: GET
      url: /search/issues
      params: {per_page: lots, order: sideways}
  - id: typo
    request: {connection: github, method: GET, url: /repos/octocat/hello/issuez}
"""


class _Starting:
    """problems["text"]: the one problem whose message starts with the text."""

    def __init__(self, problems: list[dict]) -> None:
        self.problems = problems

    def __getitem__(self, start: str) -> dict:
        [problem] = [p for p in self.problems if p["message"].startswith(start)]
        return problem


def test_validate_reports_each_problem_at_its_place(github, capsys):
    (github / "recipe.yaml").write_text(RECIPE)
    assert main(["validate", ".", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    problems = _Starting(found)
    labels = problems["labels"]
    assert labels["message"].startswith("labels: 'bug' is a string, not an array (type array in ")
    assert (labels["line"], labels["column"]) == line_column(RECIPE, "bug")
    user = problems["steps.create_issue.body.user has no key 'logn' in " + str(
        github_description())]
    assert "(did you mean 'login'?)" in user["message"]
    assert (user["line"], user["column"]) == line_column(RECIPE, '"Thanks')
    per_page = problems["query parameter per_page"]
    assert per_page["message"].endswith("'lots' is a string, not an integer (type integer in "
                                        f"{github_description()}#/components/parameters/per-page/"
                                        "schema)")
    assert (per_page["line"], per_page["column"]) == line_column(RECIPE, "lots")
    order = problems["query parameter order"]
    assert "'sideways' is not one of 'desc', 'asc'" in order["message"]
    missing = problems["GET /search/issues needs the query parameter 'q' (required in " + str(
        github_description()) + "#/paths/~1search~1issues/get/parameters/0)"]
    assert (missing["line"], missing["column"]) == line_column(RECIPE, "/search/issues")
    typo = problems["GET /repos/octocat/hello/issuez matches no operation in " + str(
        github_description()) + "; closest"]
    assert "GET /repos/{owner}/{repo}/issues" in typo["message"]
    assert (typo["line"], typo["column"]) == line_column(RECIPE, "/repos/octocat/hello/issuez")


def test_datapills_lists_paths_from_the_response_schema(github, capsys):
    (github / "recipe.yaml").write_text(RECIPE)
    assert main(["datapills", "triage", ".", "--step", "comment", "--format", "json"]) == 0
    rows = {row["path"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["steps.create_issue.status"]["example"] == "201"
    number = rows["steps.create_issue.body.number"]
    assert number["type"] == "integer"
    assert number["description"] == "Number uniquely identifying the issue within its repository"
    assert rows["steps.create_issue.body.user.login"]["type"] == "string"
