"""What commands that run documents share: loading, checking and compiling them, or why not."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.errors import Diagnostic, SecretError
from runner.recipe.compile import Project, compile_project
from runner.recipe.lint import lint
from runner.recipe.loader import LoadResult, PathNotFound, load_paths
from runner.secrets import SecretSource


class CommandError(Exception):
    """A command cannot go on; `code` is its exit code (1 input, 2 usage/environment)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def load_project(
    paths: list[str] | None, extra_file: str | None = None
) -> tuple[Project, LoadResult]:
    """Loads, lints and compiles `paths` (plus `extra_file`); raises CommandError when invalid."""
    try:
        names = list(paths or [])
        if extra_file is not None:
            if not names:
                names = [d for d in ("connections", "recipes") if Path(d).is_dir()]
            names.append(extra_file)
        result = load_paths(names or None)
    except PathNotFound as exc:
        raise CommandError(str(exc), 2) from exc
    diagnostics = sorted(result.diagnostics + lint(result), key=Diagnostic.sort_key)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise CommandError("\n".join(str(d) for d in errors), 1)
    return compile_project(result, diagnostics), result


def recipe_argument(value: str) -> tuple[str | None, str | None]:
    """RECIPE is a recipe name or a YAML file: returns (name, file)."""
    if value.endswith((".yaml", ".yml")) or Path(value).is_file():
        return None, value
    return value, None


def exit_code(error: BaseException) -> int:
    """2 when a secret is missing (the environment is wrong, however deep it was raised), else 1."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, SecretError):
            return 2
        current = current.__cause__
    return 1


def fail(error: CommandError) -> int:
    sys.stderr.write(f"{error}\n")
    return error.code


def check_secrets(loaded: LoadResult, documents: set[tuple[str, str]]) -> None:
    """Every secret the named documents (`("recipe", name)`, `("connection", name)`) read
    without a guard must be provided, RUNNER_SECRET_KEY included for an authorization-code
    connection, as `runner serve` requires at start: the environment is wrong (exit 2), said at
    each reference's file:line:column before any request, rather than a step failing on it."""
    chosen = [d for d in loaded.documents if (d.source.data.get("kind"), d.spec.name) in documents]
    subset = LoadResult(documents=chosen, sources=[d.source for d in chosen])
    missing = [d for d in lint(subset, SecretSource().is_provided) if d.code == "missing-secret"]
    if missing:
        raise CommandError("\n".join(str(d) for d in sorted(missing, key=Diagnostic.sort_key)), 2)
