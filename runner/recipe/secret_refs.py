"""The secrets a set of documents names, and recording their values to be hidden.

Why here: `runner validate` hides the values in its messages (a token pasted into a field would
be quoted back), and `runner serve` records them at start, so the first event that carries one
is stored as `***` (a secret is otherwise recorded only when a template first reads it, and a
webhook's event is stored before any of its steps run).
"""

from __future__ import annotations

from runner.errors import RunnerError, TemplateError
from runner.recipe.loader import LoadResult
from runner.recipe.rawcheck import template_strings
from runner.redact import Redactor
from runner.secrets import SecretSource, is_valid_name
from runner.templating import references

__all__ = ["hide_named_secrets", "secret_names"]


def secret_names(result: LoadResult) -> set[str]:
    """Every `secrets.NAME` (and `secrets['NAME']`) written in the documents read."""
    names: set[str] = set()
    for doc in result.sources:
        for _, text in template_strings(doc.data):
            if "secrets" not in text:
                continue
            try:
                refs = references(text)
            except TemplateError:  # reported as a syntax error already
                continue
            names.update(str(r.path[0]) for r in refs if r.root == "secrets" and r.path)
    return names


def hide_named_secrets(result: LoadResult, source: SecretSource, redactor: Redactor) -> None:
    """Records the value of every provided secret the documents name in `redactor`."""
    for name in sorted(secret_names(result)):
        try:
            value = source.get(name) if is_valid_name(name) else None
        except RunnerError:  # a file that cannot be read: nothing of it can be quoted
            continue
        if value:
            redactor.add(value)
