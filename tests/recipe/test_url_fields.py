"""URL fields `runner validate` checks: base_url and the OAuth2 endpoints are absolute http(s)
URLs (or templates, checked once rendered)."""

from __future__ import annotations

import pytest

from runner.recipe.loader import load_text


def problems(text: str) -> list[str]:
    result = load_text(text, "c.yaml")
    return [f"{d.location.line}:{d.location.column}: {d.message}" for d in result.diagnostics]


@pytest.mark.parametrize("url", ["https://api.example.com/v1", "http://127.0.0.1:8080",
                                 "{{ secrets.API_URL }}", "https://{{ secrets.HOST }}/v1"])
def test_absolute_urls_and_templates_are_accepted(url: str) -> None:
    assert problems(f"kind: connection\nname: c\nbase_url: '{url}'\n") == []


@pytest.mark.parametrize("url", ["not a url", "api.example.com/v1", "ftp://example.com",
                                 "/relative", "https://", "http://host:99999/"])
def test_other_base_urls_are_refused_where_written(url: str) -> None:
    (problem,) = problems(f"kind: connection\nname: c\nbase_url: '{url}'\n")
    assert problem.startswith("3:11: ")
    assert f"'{url}' is not an absolute http or https URL" in problem


@pytest.mark.parametrize(("field", "line"), [("token_url", 6), ("authorization_url", 5),
                                             ("redirect_uri", 8)])
def test_oauth2_endpoints_must_be_http_urls(field: str, line: int) -> None:
    fields = {"authorization_url": "https://example.com/authorize",
              "token_url": "https://example.com/token", "client_id": "abc",
              "redirect_uri": "http://127.0.0.1:8765/oauth/callback"}
    fields[field] = "not-a-url"
    body = "".join(f"  {k}: {v}\n" for k, v in fields.items())
    text = f"kind: connection\nname: c\nauth:\n  type: oauth2_authorization_code\n{body}"
    (problem,) = problems(text)
    assert problem.startswith(f"{line}:") and "'not-a-url' is not an absolute http or https URL" in problem
