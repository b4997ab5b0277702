"""A document with a schema error still gets the checks that need no valid model."""

from __future__ import annotations

from runner.recipe.lint import lint
from runner.recipe.loader import load_text

RECIPE = """kind: recipe
name: r
bogus: 1
trigger: {webhook: {}}
steps:
  - id: s
    request: {url: "https://x/{{ trigger.body.id }"}
  - id: s
    request:
      url: https://x/
      json: {a: "{% if %}"}
"""


def problems(text: str) -> list[str]:
    """What `runner validate` reports: the loader's problems and the semantic checks'."""
    result = load_text(text, "r.yaml")
    found = result.diagnostics + lint(result)
    return sorted(f"{d.location.line}:{d.location.column}: {d.code}" for d in found)


def test_an_unknown_key_does_not_hide_template_syntax_or_repeated_step_ids() -> None:
    assert problems(RECIPE) == [
        "11:17: template-syntax", "3:1: unknown-field", "7:20: template-syntax",
        "8:9: duplicate-step",
    ]


def test_a_valid_document_reports_each_problem_once() -> None:
    valid = RECIPE.replace("bogus: 1\n", "")
    assert problems(valid) == ["10:17: template-syntax", "6:20: template-syntax",
                               "7:9: duplicate-step"]


def test_a_document_that_is_no_mapping_gets_no_raw_checks() -> None:
    assert problems("- just\n- a list\n") == ["1:1: not-a-document"]


TYPO = """kind: recipe
name: r1
descripton: typo
trigger: {webhook: {path: a}}
steps:
  - id: s2
    request: {url: "https://x/{{ steps.later.body }}{{ vars.nope }}{{ bogus }}", connection: nope}
"""


def test_a_document_refused_only_for_unknown_keys_still_gets_its_references_checked() -> None:
    assert problems(TYPO) == ["3:1: unknown-field", "7:20: unknown-name", "7:20: unknown-step",
                              "7:20: unknown-var", "7:94: unknown-connection"]
    # Each reported once, and nothing of it is run: it is not among the valid documents.
    result = load_text(TYPO, "r.yaml")
    assert result.documents == [] and len(result.repaired) == 1


def test_a_document_with_other_schema_errors_is_not_checked_for_references() -> None:
    broken = TYPO.replace("path: a", "path: a, respond: later")  # not repairable by dropping keys
    assert problems(broken) == ["3:1: unknown-field", "4:39: invalid-value"]
