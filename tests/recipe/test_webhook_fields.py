"""Webhook fields checked when a document is read: the path's segments, the response status."""

from __future__ import annotations

import pytest

from runner.recipe.loader import load_text

HOOK = """kind: recipe
name: hook
trigger:
  webhook: {{path: {path!r}, respond: sync, response: {{status: {status}}}}}
steps:
  - id: s
    request: {{method: GET, url: "https://example.com/"}}
"""


def problems(path: str = "lead", status: str = "200") -> list[str]:
    result = load_text(HOOK.format(path=path, status=status), "hook.yaml")
    return [f"{d.location.line}:{d.location.column}: {d.message}" for d in result.diagnostics]


@pytest.mark.parametrize("path", ["lead", "/lead/", "github/issues", "v1.2/x_y-z", "a/.well-known"])
def test_paths_of_letters_digits_and_punctuation_are_accepted(path: str) -> None:
    assert problems(path=path) == []


@pytest.mark.parametrize("path", [".", "..", "a/../b", "a/./b", "a/..", "a b", "a//b"])
def test_paths_with_dot_segments_or_other_characters_are_refused(path: str) -> None:
    (problem,) = problems(path=path)
    assert problem.startswith("4:")
    assert "webhook path: segments of letters, digits, - _ . separated by /" in problem


@pytest.mark.parametrize("status", ['"{{ 201 if steps.s.ok else 200 }}"', "201", '"{% if true %}201{% endif %}"'])
def test_response_status_is_a_number_or_a_template(status: str) -> None:
    assert problems(status=status) == []


@pytest.mark.parametrize("status", ["99", '"201"', "true", "abc"])
def test_a_fixed_response_status_must_be_a_status_code(status: str) -> None:
    (problem,) = problems(status=status)
    assert "is not an HTTP status code (100-599)" in problem


def test_header_auth_errors_name_the_right_keys_though_the_type_is_also_a_key() -> None:
    from runner.recipe.loader import load_text

    text = ("kind: recipe\nname: w\ntrigger:\n  webhook:\n"
            "    auth: {type: header, header: X-Token, secret: abc}\nsteps: []\n")
    assert [str(d) for d in load_text(text, "w.yaml").diagnostics] == [
        "w.yaml:5:11: missing required key 'value' in trigger.webhook.auth",
        "w.yaml:5:43: unknown key 'secret' in trigger.webhook.auth; expected one of: type, "
        "header, value",
    ]
