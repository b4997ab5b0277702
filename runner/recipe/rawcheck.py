"""Checks that read a document's raw data and so need no valid model.

`runner validate` reports every problem at once. The semantic checks (`lint`) need a valid
model, so a single unknown key would otherwise hide a template syntax error or a repeated step id
elsewhere in the same document. These checks read the data as written: the loader runs them on a
document the models refused (`raw_problems`), and `lint` uses the same functions for valid ones,
so both report a problem alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runner.errors import Diagnostic, TemplateError
from runner.recipe.walk import is_template
from runner.recipe.yamlsource import Path, SourceDocument
from runner.templating import compile_template


def raw_problems(doc: SourceDocument) -> list[Diagnostic]:
    """Template syntax errors and repeated step ids of a document the models refused."""
    problems = []
    for path, text in template_strings(doc.data):
        try:
            compile_template(text)
        except TemplateError as exc:
            problems.append(syntax_problem(doc, path, exc))
    return problems + duplicate_steps(doc)


def template_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string holding Jinja in `value`, with where it stands."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from template_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from template_strings(item, (*path, index))


def syntax_problem(doc: SourceDocument, path: Path, exc: TemplateError) -> Diagnostic:
    """A template's syntax error, at the template's own line in the file."""
    line = getattr(exc, "line", None) or 1
    reason = getattr(exc, "reason", None) or str(exc)
    return Diagnostic("template-syntax", f"template syntax error: {reason}",
                      doc.template_line(path, line))


def duplicate_steps(doc: SourceDocument) -> list[Diagnostic]:
    """Step ids used twice in a recipe, each at its second use."""
    data = doc.data if isinstance(doc.data, dict) else {}
    steps = data.get("steps")
    if data.get("kind") != "recipe" or not isinstance(steps, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for index, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        if not isinstance(step_id, str):
            continue
        if step_id in first:
            problems.append(Diagnostic(
                "duplicate-step",
                f"duplicate step id '{step_id}' (first used by steps[{first[step_id]}])",
                doc.locate(("steps", index, "id")),
            ))
        first.setdefault(step_id, index)
    return problems
