"""`runner validate`'s OpenAPI checks, and the response-schema shapes `runner datapills` and the
datapill checks use for steps without a recorded sample.

For each step through a connection that names a document (and does not say `openapi: false`):
its method and URL must be an operation of the document; its literal values must fit the
operation's schemas; datapills into its `body` are walked down the response schema when the
recipe's sample has not recorded the step. Warnings, errors under `--strict`. A document that
cannot be read, or is not valid OpenAPI, is an error at its own place, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import Diagnostic, Location, Severity
from runner.openapi.document import Document, UnusableDocument, load_document
from runner.openapi.operations import Operation, match
from runner.openapi.responses import EachStepShape, SchemaStepShape, body_shape
from runner.openapi.values_check import Stand, check_request, is_template, type_stand
from runner.recipe.loader import Loaded, LoadResult, display_path
from runner.recipe.models import ConnectionSpec, RecipeSpec, StepSpec
from runner.samples.checks import (
    Known,
    RecipeShapes,
    path_problems,
    plain_chain,
    recipe_shapes,
    resolve_chain,
)
from runner.samples.files import SampleError

_READ: dict[tuple[Path, int, int], Document | UnusableDocument] = {}  # one read per process


@dataclass(frozen=True)
class Described:
    """A connection with a document: the document (or why it cannot be used)."""

    connection: Loaded
    document: Document | None
    problem: Diagnostic | None


def read_document(connection: Loaded) -> Described:
    spec = connection.spec
    assert isinstance(spec, ConnectionSpec) and spec.openapi is not None
    path = (Path(connection.source.file).parent / spec.openapi).resolve()
    where = connection.source.locate(("openapi",))
    try:
        stat = path.stat()
    except OSError:
        return Described(connection, None, Diagnostic(
            "openapi-missing-document", f"connection {spec.name}: there is no OpenAPI document "
            f"{spec.openapi} beside {connection.source.file}", where))
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _READ:
        try:
            _READ[key] = load_document(path)
        except UnusableDocument as exc:
            _READ[key] = exc
    read = _READ[key]
    if isinstance(read, UnusableDocument):
        problem = read.problem
        return Described(connection, None, Diagnostic(
            "openapi-invalid-document", f"{spec.openapi}: {problem.message}",
            Location(display_path(problem.file), problem.line, problem.column)))
    read.shown = spec.openapi
    return Described(connection, read, None)


def described_connections(result: LoadResult) -> dict[str, Described]:
    found = {}
    for loaded in result.connections:
        spec = loaded.spec
        if isinstance(spec, ConnectionSpec) and spec.openapi and spec.name not in found:
            found[spec.name] = read_document(loaded)
    return found


def document_problems(described: dict[str, Described]) -> list[Diagnostic]:
    found: dict[tuple[Location, str], Diagnostic] = {}
    for entry in described.values():
        if entry.problem is not None:
            found.setdefault((entry.problem.location, entry.problem.message), entry.problem)
        if entry.document is not None:
            for problem in entry.document.problems:
                diagnostic = Diagnostic(
                    "openapi-invalid-document",
                    f"{entry.document.shown_of(problem.file)}: {problem.dotted}: "
                    f"{problem.message}",
                    Location(display_path(problem.file), problem.line, problem.column))
                found.setdefault((diagnostic.location, diagnostic.message), diagnostic)
    return list(found.values())


def step_operation(described: dict[str, Described], step: StepSpec
                   ) -> tuple[Document, Operation | None, str | None, ConnectionSpec] | None:
    """The document and operation a step calls (operation None with the reason when it
    calls none); None when the step is not checked."""
    name = step.request.connection
    if step.openapi is False or name is None or name not in described:
        return None
    entry = described[name]
    if entry.document is None or entry.document.problems:
        return None
    spec = entry.connection.spec
    assert isinstance(spec, ConnectionSpec)
    base = str(spec.base_url) if spec.base_url is not None else None
    found = match(entry.document, step.request.method, base, step.request.url)
    if found is None:
        return None
    return entry.document, found.operation, found.problem, spec


def add_schema_shapes(loaded: Loaded, result: LoadResult, shapes: RecipeShapes,
                      described: dict[str, Described] | None = None) -> None:
    """Adds the response-schema shape of every step the sample has not recorded."""
    spec = loaded.spec
    assert isinstance(spec, RecipeSpec)
    described = described if described is not None else described_connections(result)
    for step in spec.steps:
        if step.id in shapes.steps:
            continue
        found = step_operation(described, step)
        if found is None or found[1] is None:
            continue
        document, operation, _, _ = found
        body = body_shape(document, operation, step.request.expect)
        if body is None:
            continue
        view = SchemaStepShape(body)
        shapes.steps[step.id] = Known(EachStepShape(view) if step.for_each is not None else view,
                                      f"{document.shown} ({operation.name})", "openapi")


def openapi_problems(result: LoadResult, strict: bool = False) -> list[Diagnostic]:
    described = described_connections(result)
    if not described:
        return []
    problems = document_problems(described)
    severity: Severity = "error" if strict else "warning"
    for loaded in result.recipes:
        spec = loaded.spec
        assert isinstance(spec, RecipeSpec)
        try:
            samples = recipe_shapes(loaded)
        except SampleError:
            continue  # reported by the sample checks
        schemas = RecipeShapes(samples.trigger, dict(samples.steps))
        add_schema_shapes(loaded, result, schemas, described)
        problems += _step_problems(loaded, spec, described, schemas, severity)
        only_schemas = RecipeShapes(None, {k: v for k, v in schemas.steps.items()
                                           if v.code == "openapi"})
        if only_schemas.steps:
            problems += path_problems(loaded, only_schemas, strict)
    return problems


def _step_problems(loaded: Loaded, spec: RecipeSpec, described: dict[str, Described],
                   shapes: RecipeShapes, severity: Severity) -> list[Diagnostic]:
    problems = []
    raw_steps = loaded.source.data.get("steps") if isinstance(loaded.source.data, dict) else None
    for index, step in enumerate(spec.steps):
        found = step_operation(described, step)
        if found is None:
            continue
        document, operation, why, connection = found
        here = ("steps", index, "request")
        if operation is None:
            problems.append(Diagnostic("openapi-unknown-operation",
                                       f"step {step.id}: {why} ({document.shown})",
                                       loaded.source.locate((*here, "url")), severity))
            continue
        request = raw_steps[index].get("request") if isinstance(raw_steps, list) else None
        if not isinstance(request, dict):
            continue
        for problem in check_request(document, operation, request, set(connection.params),
                                     lambda text: _stand(shapes, text)):
            problems.append(Diagnostic(
                "openapi-invalid-value", f"step {step.id}: {problem.message}",
                loaded.source.locate((*here, *problem.path), key=problem.at_key), severity))
    return problems


def _stand(shapes: RecipeShapes, text: str) -> Stand | None:
    """What a templated value is known to be: a sample's value, or a schema's type."""
    if not is_template(text):
        return None
    chain = plain_chain(text)
    if chain is None:
        return None
    resolved = resolve_chain(shapes, chain)
    if resolved is None:
        return None
    shape, path, known = resolved
    source = "{{ " + path + " }}"
    if known.code == "sample" and shape.kind in ("scalar", "null"):
        example: Any = shape.example
        return Stand(example, "exact", source)
    return type_stand(shape.type_name, source) if shape.kind == "scalar" else None
