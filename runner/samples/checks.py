"""`runner validate`'s datapill checks: every path into `trigger`, `steps.<id>` and `item`
walked down what is known of it, a recorded sample first.

What is known of a recipe is a `Known` per root (the trigger, each step), each with the shape,
the words naming where it came from (`samples/new-lead.json`) and the diagnostic code's prefix;
the OpenAPI checks add shapes from response schemas for steps the sample lacks. Paths the
template guards (`| default`, `is defined`) are not walked: the template copes without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.errors import Diagnostic, Location, Severity, TemplateError
from runner.recipe.loader import Loaded, LoadResult
from runner.recipe.models import RecipeSpec
from runner.recipe.walk import Site, is_template, recipe_sites
from runner.samples.files import Sample, SampleError, read_sample, sample_path, shown_path
from runner.samples.shape import Shape
from runner.samples.values import shape_of, step_shape
from runner.samples.walk import PathProblem, describe, first_problem, list_problem, path_text
from runner.templating import Reference, compile_template

if TYPE_CHECKING:
    from runner.openapi.apis import Apis


@dataclass(frozen=True)
class Known:
    """What one root of a recipe's datapills is known to be, and from where."""

    shape: Shape
    source: str  # as messages name it: `samples/new-lead.json`
    code: str = "sample"  # the diagnostics' code prefix: `sample-missing-key`


@dataclass
class RecipeShapes:
    """The known shapes of one recipe: its trigger event and its steps' views, by step id."""

    trigger: Known | None = None
    steps: dict[str, Known] = field(default_factory=dict)


def recipe_sample(loaded: Loaded) -> Sample | None:
    """The sample beside a recipe's file (None without one); `SampleError` when it is broken."""
    assert isinstance(loaded.spec, RecipeSpec)
    return read_sample(sample_path(loaded.source.file, loaded.spec.name))


def sample_shapes(loaded: Loaded, sample: Sample) -> RecipeShapes:
    shown = shown_path(sample.path, loaded.source.file)
    shapes = RecipeShapes()
    if sample.has_trigger:
        shapes.trigger = Known(shape_of(sample.trigger), shown)
    for step_id, entry in sample.steps.items():
        shapes.steps[step_id] = Known(step_shape(entry), shown)
    return shapes


def recipe_shapes(loaded: Loaded, apis: Apis | None = None) -> RecipeShapes:
    """Everything known of a recipe's datapills: its sample (`SampleError` when the sample is
    broken), then, for steps the sample lacks, the response schemas of `apis`' operations."""
    sample = recipe_sample(loaded)
    shapes = RecipeShapes() if sample is None else sample_shapes(loaded, sample)
    if apis is not None:
        from runner.openapi.responses import add_response_shapes

        add_response_shapes(loaded, shapes, apis)
    return shapes


def sample_problems(
    result: LoadResult, strict: bool = False, apis: Apis | None = None
) -> list[Diagnostic]:
    """Every datapill path the recipes' samples (and the APIs' response schemas) say cannot be
    there."""
    problems: list[Diagnostic] = []
    for loaded in result.documents:
        if not isinstance(loaded.spec, RecipeSpec):
            continue
        try:
            shapes = recipe_shapes(loaded, apis)
        except SampleError as exc:
            problems.append(Diagnostic("sample-invalid", exc.reason, exc.location,
                                       severity=_severity(strict)))
            continue
        if shapes.trigger is not None or shapes.steps:
            problems += path_problems(loaded, shapes, strict)
    return problems


def path_problems(loaded: Loaded, shapes: RecipeShapes, strict: bool = False) -> list[Diagnostic]:
    """The located problems of every unguarded datapill path of one recipe against `shapes`."""
    spec = loaded.spec
    assert isinstance(spec, RecipeSpec)
    found: dict[tuple[Location, str], Diagnostic] = {}
    for site in recipe_sites(spec, loaded.source.data):
        if not is_template(site.source) or not site.names & {"trigger", "steps", "item"}:
            continue
        for problem, known, line in _site_problems(spec, shapes, site):
            location = loaded.source.template_line(site.path, line)
            message = describe(problem, known.source)
            found.setdefault((location, message), Diagnostic(
                f"{known.code}-{problem.kind}", message, location, severity=_severity(strict)))
    return list(found.values())


def _site_problems(
    spec: RecipeSpec, shapes: RecipeShapes, site: Site
) -> Iterator[tuple[PathProblem, Known, int]]:
    try:
        template = compile_template(site.source)
    except TemplateError:  # reported by the linter
        return
    if site.path[-1:] == ("for_each",):
        loops_over = plain_chain(site.source)
        if loops_over is not None:
            resolved = resolve_chain(shapes, loops_over)
            if resolved is not None and (problem := list_problem(*resolved[:2])) is not None:
                yield problem, resolved[2], 1
    item = None
    if "item" in site.names and site.step_index is not None:
        item = item_shape(spec, shapes, site.step_index)
    for ref in template.references:
        if ref.guarded or ref.root not in site.names:
            continue
        walked = _walk(shapes, ref, item)
        if walked is not None:
            yield walked[0], walked[1], ref.line


def _root(
    shapes: RecipeShapes, root: str, keys: tuple[str | int, ...]
) -> tuple[Known, str, tuple[str | int, ...]] | None:
    """Where a chain starts: what is known of its root, the root's path text, the keys after it."""
    if root == "trigger" and shapes.trigger is not None:
        return shapes.trigger, "trigger", keys
    if root == "steps" and keys and isinstance(keys[0], str) and keys[0] in shapes.steps:
        return shapes.steps[keys[0]], f"steps.{keys[0]}", keys[1:]
    return None


def _walk(
    shapes: RecipeShapes, ref: Reference, item: tuple[Shape, Known] | None
) -> tuple[PathProblem, Known] | None:
    if ref.root == "item":
        if item is None:
            return None
        problem = first_problem(item[0], "item", ref.path)
        return (problem, item[1]) if problem else None
    start = _root(shapes, ref.root, ref.path)
    if start is None:
        return None
    known, label, rest = start
    problem = first_problem(known.shape, label, rest)
    return (problem, known) if problem else None


def item_shape(spec: RecipeSpec, shapes: RecipeShapes, index: int) -> tuple[Shape, Known] | None:
    """The shape of `item` in a step whose `for_each` is a plain path (`{{ trigger.body.x }}`)."""
    for_each = spec.steps[index].for_each
    chain = plain_chain(for_each) if isinstance(for_each, str) else None
    resolved = resolve_chain(shapes, chain) if chain is not None else None
    if resolved is None or resolved[0].kind != "list":
        return None
    element = resolved[0].element()
    return (element, resolved[2]) if element is not None else None


def plain_chain(source: str) -> tuple[str, tuple[str | int, ...]] | None:
    """The path a template is exactly (`{{ trigger.body.items }}`), without filters; else None."""
    try:
        template = compile_template(source)
    except TemplateError:
        return None
    lookup = template._lookup  # noqa: SLF001 -- the compiled fast path knows the plain chain
    if lookup is None or lookup.filters:
        return None
    return lookup.name, lookup.keys


def resolve_chain(
    shapes: RecipeShapes, chain: tuple[str, tuple[str | int, ...]]
) -> tuple[Shape, str, Known] | None:
    """The shape a plain chain reaches, with its path text and source; None when unknown."""
    start = _root(shapes, *chain)
    if start is None:
        return None
    known, label, rest = start
    if first_problem(known.shape, label, rest) is not None:
        return None  # the path itself is reported where it is read
    current: Shape | None = known.shape
    for key in rest:
        if current is None or current.kind not in ("object", "list"):
            return None
        current = current.child(key) if isinstance(key, str) else current.element()
    if current is None:
        return None
    return current, path_text(label, rest), known


def _severity(strict: bool) -> Severity:
    return "error" if strict else "warning"
