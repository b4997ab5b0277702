"""`runner validate` says when a connection's own base_url or token_url is outside its
allow_hosts: every request (or token request) would be refused at run time."""

from __future__ import annotations

from runner.recipe.lint import lint
from runner.recipe.loader import load_text

CONNECTION = """kind: connection
name: al
base_url: {base}
allow_hosts: [API.example.com, "[::1]"]
auth:
  type: oauth2_client_credentials
  token_url: {token}
  client_id: x
  client_secret: y
"""


def problems(base: str, token: str) -> list[str]:
    result = load_text(CONNECTION.format(base=base, token=token), "c.yaml")
    assert not result.diagnostics
    return [str(d) for d in lint(result)]


def test_a_token_url_or_base_url_outside_allow_hosts_is_reported_where_it_is_written() -> None:
    assert problems("https://api.example.com/v2", "https://login.example.com/token") == [
        "c.yaml:7:14: token_url host login.example.com is not in allow_hosts (::1, "
        "api.example.com): every request to it would be refused"]
    assert problems("https://other.example.com", "https://API.example.com./t") == [
        "c.yaml:3:11: base_url host other.example.com is not in allow_hosts (::1, "
        "api.example.com): every request to it would be refused"]


def test_hosts_in_allow_hosts_and_templates_are_not_reported() -> None:
    assert problems("http://[::1]:8080", "https://api.example.com/token") == []
    assert problems("'{{ secrets.BASE }}'", "https://api.example.com/token") == []
