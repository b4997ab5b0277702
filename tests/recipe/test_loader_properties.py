"""Property tests: whatever text arrives, the loader and validator answer with diagnostics, never a crash."""

import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.commands.validate import render, summary
from runner.errors import Diagnostic
from runner.recipe.lint import lint
from runner.recipe.loader import load_text

VALID = """kind: connection
name: api
base_url: https://api.example.com
auth: {type: basic, username: u, password: "{{ secrets.PW }}"}
---
kind: recipe
name: lead
vars: {org: "1"}
trigger:
  webhook: {path: lead, auth: {type: github, secret: s}}
steps:
  - id: create
    if: "{{ trigger.body.x is defined }}"
    request:
      connection: api
      method: POST
      url: /orgs/{{ vars.org }}/x
      json: {a: "{{ trigger.body.a }}", b: [1, 2, {c: "{{ steps }}"}]}
  - id: each
    for_each: "{{ trigger.body.items }}"
    request: {url: "https://example.com/{{ item }}"}
"""


def check(text: str) -> None:
    result = load_text(text, "f.yaml")
    diagnostics = result.diagnostics + lint(result)
    # Lines as YAML (and editors) count them: a lone CR ends a line too.
    lines = len(re.findall(r"\r\n|\r|\n|\x85|\u2028|\u2029", text)) + 1
    for d in diagnostics:
        assert isinstance(d, Diagnostic)
        assert d.location.file == "f.yaml"
        assert 1 <= d.location.line <= lines + 1, (d, lines)
        assert d.location.column >= 1
    render(diagnostics, "text")
    render(diagnostics, "json")
    render(diagnostics, "github")
    summary(diagnostics, result)


def test_a_lone_carriage_return_counts_as_a_line_break() -> None:
    check("\r\r0")  # found by the property test below: the document is on line 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.printable + "{}[]:-&*!|>'\"#%é", max_size=400))
def test_random_text_never_crashes(text):
    check(text)


@st.composite
def mutated(draw):
    """The valid document with a few characters deleted, replaced or inserted."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["delete", "replace", "insert"]))
        char = draw(st.sampled_from(list("{}[]:-'\" \nxyz0|&*!#")))
        if action == "delete":
            text = text[:at] + text[at + 1:]
        elif action == "replace":
            text = text[:at] + char + text[at + 1:]
        else:
            text = text[:at] + char + text[at:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_documents_never_crash(text):
    check(text)


def test_the_unmutated_document_is_valid():
    result = load_text(VALID, "f.yaml")
    assert result.diagnostics == [] and lint(result) == []
