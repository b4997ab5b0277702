"""`runner validate`: every problem in one pass, as text, JSON or GitHub annotations."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from runner.errors import Diagnostic
from runner.recipe.lint import lint
from runner.recipe.loader import LoadResult, PathNotFound, load_paths
from runner.recipe.models import ConnectionSpec
from runner.recipe.secret_refs import hide_named_secrets
from runner.redact import Redactor
from runner.samples.checks import sample_problems
from runner.secrets import SecretSource


def check(paths: list[str] | None, strict: bool = False) -> tuple[LoadResult, list[Diagnostic]]:
    """Loads and lints `paths`; returns the documents and every diagnostic, sorted, with the
    values of the secrets they use hidden (a token pasted into a field would be quoted back)."""
    result = load_paths(paths)
    provided = None
    if strict:
        provided = SecretSource().is_provided
    diagnostics = result.diagnostics + lint(result, provided)
    if any(isinstance(d.spec, ConnectionSpec) and d.spec.openapi for d in result.connections):
        # Imported only when a connection names a document: validate starts fast without.
        from runner.openapi.apis import load_apis, not_ours
        from runner.openapi.checks import openapi_problems

        apis = load_apis(result)
        diagnostics = not_ours(diagnostics, apis)
        diagnostics += sample_problems(result, strict, apis)
        diagnostics += openapi_problems(result, apis, strict)
    else:
        diagnostics += sample_problems(result, strict)
    redactor = _secrets_redactor(result)
    if redactor.holds_values:
        diagnostics = [replace(d, message=redactor.redact_text(d.message)) for d in diagnostics]
    return result, sorted(diagnostics, key=Diagnostic.sort_key)


def _secrets_redactor(result: LoadResult) -> Redactor:
    """A redactor of the values of every provided secret the documents name."""
    redactor = Redactor()
    hide_named_secrets(result, SecretSource(), redactor)
    return redactor


def run(args: argparse.Namespace) -> int:
    try:
        result, diagnostics = check(args.paths, args.strict)
    except PathNotFound as exc:
        sys.stderr.write(f"runner: error: {exc}\n")
        return 2
    sys.stdout.write(render(diagnostics, args.format))
    if args.format == "text":  # for people; stdout holds only `file:line:column: message` lines
        sys.stderr.write(summary(diagnostics, result) + "\n")
    return 1 if any(d.severity == "error" for d in diagnostics) else 0


def render(diagnostics: list[Diagnostic], fmt: str) -> str:
    """The report in one of the three formats: every problem, nothing else."""
    if fmt == "json":
        return json.dumps([_as_json(d) for d in diagnostics], indent=2) + "\n"
    if fmt == "github":
        return "".join(_as_github(d) + "\n" for d in diagnostics)
    return "".join(_as_text(d) + "\n" for d in diagnostics)


def summary(diagnostics: list[Diagnostic], result: LoadResult) -> str:
    """One line saying how it went (`ok: ...` or the counts), written to stderr."""
    errors = sum(d.severity == "error" for d in diagnostics)
    files = len(result.files)
    if diagnostics:
        return f"{errors} error(s), {len(diagnostics) - errors} warning(s) in {files} file(s)"
    return f"ok: {len(result.documents)} document(s) in {files} file(s)"


def _as_text(d: Diagnostic) -> str:
    prefix = "warning: " if d.severity == "warning" else ""
    return f"{d.location}: {prefix}{d.message}"


def _as_json(d: Diagnostic) -> dict[str, object]:
    loc = d.location
    return {"file": loc.file, "line": loc.line, "column": loc.column, "message": d.message,
            "code": d.code, "severity": d.severity}


def _as_github(d: Diagnostic) -> str:
    loc = d.location
    message = d.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    file = loc.file.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
    return f"::{d.severity} file={file},line={loc.line},col={loc.column}::{message}"
