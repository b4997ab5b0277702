"""What commands that run documents share: loading, checking and compiling them, or why not."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from runner.errors import Diagnostic, SecretError
from runner.recipe.compile import Connection, Project, compile_project
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


def check_secret_key(connections: Iterable[Connection]) -> None:
    """An `oauth2_authorization_code` connection's tokens are stored encrypted with
    RUNNER_SECRET_KEY: a command that sends through one needs it, said before anything is sent
    (exit 2: the environment), as `runner serve` refuses to start without it."""
    if not any(c.spec.auth.type == "oauth2_authorization_code" for c in connections):
        return
    from runner.oauth.tokens import missing_key_message

    try:
        key = SecretSource().secret_key()
    except SecretError as exc:  # present but too short
        raise CommandError(f"runner: {exc}", 2) from exc
    if key is None:
        raise CommandError(f"runner: {missing_key_message()}", 2)
