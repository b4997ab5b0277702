"""OAuth2 fields `runner validate` checks, so that `runner connect` never meets them first."""

from __future__ import annotations

import pytest

from runner.recipe.loader import load_text

CONNECTION = """kind: connection
name: ac
base_url: https://api.example.com
auth:
  type: oauth2_authorization_code
  authorization_url: https://example.com/authorize
  token_url: https://example.com/token
  client_id: abc
  auth_params: {params}
"""


def problems(params: str) -> list[str]:
    result = load_text(CONNECTION.format(params=params), "ac.yaml")
    return [f"{d.location.line}:{d.location.column}: {d.message}" for d in result.diagnostics]


def test_extra_authorization_parameters_are_accepted() -> None:
    assert problems("{prompt: consent, access_type: offline}") == []


@pytest.mark.parametrize("name", ["state", "redirect_uri", "client_id", "response_type", "scope",
                                  "code_challenge", "code_challenge_method"])
def test_parameters_the_flow_sets_are_refused_where_written(name: str) -> None:
    (problem,) = problems(f"{{prompt: consent, {name}: x}}")
    assert problem.startswith("9:16: ")
    assert f"auth_params may not set {name}: the authorization flow sets them itself" in problem


def test_numbers_and_booleans_are_written_as_url_parameters() -> None:
    result = load_text(CONNECTION.format(params="{include_granted_scopes: true, max_age: 0}"),
                       "ac.yaml")
    assert result.diagnostics == []
    assert result.documents[0].spec.auth.auth_params == {"include_granted_scopes": "true",
                                                         "max_age": "0"}
    assert problems("{nested: {a: 1}}") == [
        "9:25: auth.auth_params.nested: expected a string, got a mapping"]
