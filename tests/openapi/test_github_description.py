"""Recipes checked against a real published document: GitHub's REST API description (13 MB of
OpenAPI 3.0 from the npm package @octokit/openapi, which .ci/run installs)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import main

DESCRIPTION = os.environ.get("RUNNER_TEST_OCTOKIT_OPENAPI")
pytestmark = pytest.mark.skipif(
    not DESCRIPTION, reason="RUNNER_TEST_OCTOKIT_OPENAPI is not set: no GitHub REST description "
    "(.ci/run installs @octokit/openapi from npm and sets it)")

CONNECTION = """kind: connection
name: github
base_url: https://api.github.com
auth: {type: header, headers: {Authorization: "Bearer {{ secrets.GITHUB_TOKEN }}"}}
openapi: specs/api.github.com.json
"""

RECIPE = """kind: recipe
name: triage
trigger: {webhook: {}}
steps:
  - id: get_repo
    request:
      connection: github
      method: GET
      url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}
  - id: open_issues
    request:
      connection: github
      method: GET
      url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}/issues
      params: {state: opened, per_page: many, sort: "{{ trigger.body.sort }}"}
  - id: file_issue
    request:
      connection: github
      method: POST
      url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}/issues
      json:
        body: "Found by {{ steps.get_repo.body.full_nme }}"
        labels: bug
        assignees: [42]
  - id: typo
    request:
      connection: github
      method: GET
      url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}/issuez
  - id: unchecked
    openapi: false
    request:
      connection: github
      method: GET
      url: /nothing/like/this
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("github")
    (root / "specs").mkdir()
    assert DESCRIPTION is not None
    shutil.copy(DESCRIPTION, root / "specs" / "api.github.com.json")
    (root / "github.yaml").write_text(CONNECTION, encoding="utf-8")
    (root / "triage.yaml").write_text(RECIPE, encoding="utf-8")
    yield root


@pytest.fixture(autouse=True)
def cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.getbasetemp() / "openapi-cache"
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(folder))
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_locates_each_problem_in_the_recipe(
    folder: Path, cache: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(capsys, "validate", str(folder))
    assert code == 0, out  # warnings only
    lines = [line.replace(str(folder) + "/", "") for line in out.splitlines()]
    spec = "specs/api.github.com.json"
    schema = (f"{spec}#/paths/~1repos~1{{owner}}~1{{repo}}~1issues/post/requestBody/content/"
              "application~1json/schema")
    expected = [
        "triage.yaml:15:23: warning: step open_issues: params.state: 'opened' is not one of "
        "'open', 'closed', 'all' (enum in "
        f"{spec}#/paths/~1repos~1{{owner}}~1{{repo}}~1issues/get/parameters/3)",
        "triage.yaml:15:41: warning: step open_issues: params.per_page: 'many' is not of type "
        f"integer (type integer in {spec}#/components/parameters/per-page)",
        f"triage.yaml:22:9: warning: step file_issue: 'title' is required (required in {schema})",
        "triage.yaml:22:15: warning: steps.get_repo.body has no key 'full_nme' in "
        f"{spec} (GET /repos/{{owner}}/{{repo}}) (did you mean 'full_name'?); it has: id, "
        "node_id,",
        "triage.yaml:23:17: warning: step file_issue: labels: 'bug' is not of type array (type "
        f"array in {schema})",
        "triage.yaml:24:21: warning: step file_issue: assignees.0: 42 is not of type string "
        f"(type string in {schema})",
        "triage.yaml:29:12: warning: step typo: GET /repos/{...}/{...}/issuez is not an "
        "operation of the document; the closest: GET /repos/{owner}/{repo}/issues",
    ]
    assert len(lines) == len(expected), "\n".join(lines)
    for line, got in zip(expected, lines, strict=False):
        assert got.startswith(line), (line, got)
    assert not any("unchecked" in got or "get_repo:" in got or "sort" in got for got in lines)
    assert list((cache / "openapi").glob("*.pickle")), "the checked document is cached"

    monkeypatch.setenv("GITHUB_TOKEN", "not-a-real-token")  # --strict wants secrets provided
    code, out, _ = run(capsys, "validate", "--strict", str(folder))
    assert code == 1 and "triage.yaml:15:23: step open_issues: params.state" in out


def test_import_writes_steps_from_operations(folder: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "import", "openapi", "github", "issues/create", str(folder))
    assert code == 0
    assert "url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}/issues" in out
    assert "method: POST" in out and "- id: issues_create" in out
    assert "json:\n      title: Found a bug\n" in out  # the operation's own example
    code, out, _ = run(capsys, "import", "openapi", "github", "GET /repos/{owner}/{repo}/pulls",
                       str(folder))
    assert code == 0 and "url: /repos/{{ trigger.body.owner }}/{{ trigger.body.repo }}/pulls" in out
    code, out, _ = run(capsys, "import", "openapi", "github", "search/code", str(folder))
    assert code == 0 and "params:\n      q: '{{ trigger.body.q }}'" in out  # required query
    code, out, err = run(capsys, "import", "openapi", "github", str(folder), "--list", "--search",
                         "no-such-word")
    assert code == 1 and "no operation matches" in err
    code, out, err = run(capsys, "import", "openapi", "github", str(folder), "--list",
                         "--search", "reactions")
    assert code == 0 and "POST /repos/{owner}/{repo}/issues/{issue_number}/reactions" in out
    code, out, err = run(capsys, "import", "openapi", "github", "repos/nope", str(folder))
    assert code == 2 and "'repos/nope' is not an operation" in err


def test_datapills_from_the_response_schema(folder: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "datapills", "triage", str(folder), "--step", "file_issue")
    assert code == 0
    assert "steps.get_repo.body.full_name" in out and "string" in out
    assert "steps.get_repo.body.owner.login" in out
