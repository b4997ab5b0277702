"""Checks that need no valid model, for a document that failed schema validation.

`runner validate` reports every problem at once. The semantic checks (`lint`) need a valid
model, so a single unknown key would otherwise hide a template syntax error or a repeated step id
elsewhere in the same document. These checks read the document's raw data instead: every string
that holds Jinja is compiled, and the ids of `steps` are compared. Nothing here may report what
the schema errors already say, so only problems the schema cannot see are looked for.
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
    problems = [_syntax(doc, path, text) for path, text in _strings(doc.data, ())]
    return [p for p in problems if p is not None] + _duplicate_steps(doc)


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _syntax(doc: SourceDocument, path: Path, text: str) -> Diagnostic | None:
    try:
        compile_template(text)
    except TemplateError as exc:
        line = getattr(exc, "line", None) or 1
        reason = getattr(exc, "reason", None) or str(exc)
        return Diagnostic("template-syntax", f"template syntax error: {reason}",
                          doc.template_line(path, line))
    return None


def _duplicate_steps(doc: SourceDocument) -> list[Diagnostic]:
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
