"""`runner datapills RECIPE [--step ID]`: the datapills a step can use, with types and examples.

The wizard's datapill picker, as text for a person and as JSON for an editor: every path into
the trigger and the earlier steps that the recipe's sample recorded (and `item` in a `for_each`
step), so a datapill is copied, not guessed. Nothing is sent. Examples come from the sample,
which `runner sample` wrote redacted; values of provided secrets are hidden again on the way out.
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import islice
from typing import TYPE_CHECKING

from runner.commands.common import CommandError, fail
from runner.commands.run import load_recipe
from runner.recipe.loader import Loaded, LoadResult
from runner.recipe.models import ConnectionSpec, RecipeSpec
from runner.recipe.secret_refs import hide_named_secrets
from runner.redact import Redactor
from runner.samples.checks import RecipeShapes, item_shape, recipe_shapes
from runner.samples.files import SampleError
from runner.samples.listing import MAX_ROWS, Datapill, datapills
from runner.secrets import SecretSource

if TYPE_CHECKING:
    from runner.openapi.apis import Apis


def run(args: argparse.Namespace) -> int:
    try:
        _, result, recipe = load_recipe(args.recipe, args.paths)
        loaded = next(d for d in result.documents
                      if isinstance(d.spec, RecipeSpec) and d.spec.name == recipe.name)
        pills = _available(loaded, result, args.step)
        redactor = Redactor()
        hide_named_secrets(result, SecretSource(), redactor)
    except CommandError as exc:
        return fail(exc)
    shown = pills[:MAX_ROWS]
    if args.format == "json":
        rows = [{"path": p.path, "type": p.type_name,
                 "example": redactor.redact_text(p.example) if p.example else None,
                 "description": p.description, "source": p.source} for p in shown]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_table(shown, redactor))
        sources = ", ".join(dict.fromkeys(p.source for p in shown))
        where = f"step {args.step} of recipe" if args.step else "the end of recipe"
        sys.stderr.write(f"{len(shown)} datapill(s) available at {where} {recipe.name}, "
                         f"from {sources}\n")
    if len(pills) > MAX_ROWS:
        sys.stderr.write(f"runner: {len(pills) - MAX_ROWS} more datapills not shown\n")
    return 0


def _apis(result: LoadResult) -> Apis | None:
    """The connections' OpenAPI documents (response schemas stand in for missing samples)."""
    if not any(isinstance(d.spec, ConnectionSpec) and d.spec.openapi for d in result.connections):
        return None
    from runner.openapi.apis import load_apis

    return load_apis(result)


def _available(loaded: Loaded, result: LoadResult, step: str | None) -> list[Datapill]:
    spec = loaded.spec
    assert isinstance(spec, RecipeSpec)
    ids = [s.id for s in spec.steps]
    if step is not None and step not in ids:
        raise CommandError(f"runner: recipe {spec.name} has no step {step!r} "
                           f"(steps: {', '.join(ids) or 'none'})", 2)
    try:
        shapes = recipe_shapes(loaded, _apis(result))
    except SampleError as exc:
        raise CommandError(str(exc), 1) from exc
    if shapes.trigger is None and not shapes.steps:
        raise CommandError(
            f"runner: nothing is known of recipe {spec.name}'s datapills yet: record a sample "
            f"with `runner sample {spec.name}` (it runs one job and keeps what it saw), or name "
            "the API's OpenAPI document in the connection (`openapi: <path>`)", 1)
    index = ids.index(step) if step is not None else len(ids)
    return _rows(spec, shapes, ids[:index], index if step is not None else None)


def _rows(
    spec: RecipeSpec, shapes: RecipeShapes, earlier: list[str], index: int | None
) -> list[Datapill]:
    rows: list[Datapill] = []
    if index is not None and (item := item_shape(spec, shapes, index)) is not None:
        rows += islice(datapills(item[0], "item", item[1].source), _CAP)
    if shapes.trigger is not None:
        rows += islice(datapills(shapes.trigger.shape, "trigger", shapes.trigger.source), _CAP)
    for step_id in earlier:
        known = shapes.steps.get(step_id)
        if known is not None:
            # A response schema nests deep (a repository has an owner, which has...): its
            # listing is cut where a sample's would end anyway.
            rows += islice(datapills(known.shape, f"steps.{step_id}", known.source), _CAP)
    return rows


_CAP = MAX_ROWS + 1  # rows read from one root: one more than shown tells that more exist


def _table(rows: list[Datapill], redactor: Redactor) -> str:
    width = min(max((len(p.path) for p in rows), default=0), 60)
    kinds = max((len(p.type_name) for p in rows), default=0)
    lines = []
    for pill in rows:
        example = redactor.redact_text(pill.example) if pill.example is not None else ""
        note = f"  {pill.description}" if pill.description else ""
        lines.append(f"{pill.path:<{width}}  {pill.type_name:<{kinds}}  {example}{note}".rstrip())
    return "".join(line + "\n" for line in lines)
