"""`runner run`: one job now, in the foreground, printing each step's request and response.

This is the command-line form of an HTTP wizard: iterate on a request by running it and reading
the whole response. `--dry-run` renders every request and sends none (for a poll recipe without
`--event` that includes the poll request: it is shown, not sent, and no job runs).
Exit codes: 0 every job succeeded, 1 a job failed or the input is wrong, 2 usage or environment
(a path or event file that cannot be read, a secret that is not provided).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from runner.commands.common import (
    CommandError,
    check_secrets,
    exit_code,
    fail,
    load_project,
    recipe_argument,
)
from runner.commands.output import print_job_end, print_job_start, print_request, print_step
from runner.commands.runtime import command_runtime
from runner.engine.job import new_job, now_iso, recipe_context, run_job
from runner.engine.records import JobRecord, StepRecord
from runner.engine.runtime import Runtime
from runner.engine.steps import dry_record, render_request
from runner.errors import RunnerError
from runner.recipe.compile import Project, Recipe, connections_used
from runner.recipe.loader import LoadResult
from runner.redact import Redactor, mask_credential_headers
from runner.triggers.poll import record_key


def run(args: argparse.Namespace) -> int:
    try:
        project, loaded, recipe = load_recipe(args.recipe, args.paths)
        event = read_event(args.event) if args.event else None
        if not args.dry_run:
            wanted = {("connection", c) for c in connections_used(recipe)}
            check_secrets(loaded, wanted | {("recipe", recipe.name)})
        return asyncio.run(_run(project, recipe, event, args))
    except CommandError as exc:
        return fail(exc)


def load_recipe(value: str, paths: list[str] | None) -> tuple[Project, LoadResult, Recipe]:
    """RECIPE (a name or a YAML file) and the documents of PATH...: what `run`, `sample` and
    `datapills` start from; CommandError when they are invalid or the recipe is not there."""
    name, file = recipe_argument(value)
    project, loaded = load_project(paths, file)
    return project, loaded, pick_recipe(project, name, file)


def pick_recipe(project: Project, name: str | None, file: str | None) -> Recipe:
    if name is not None:
        if name not in project.recipes:
            known = ", ".join(sorted(project.recipes)) or "none"
            raise CommandError(f"runner: no recipe named '{name}' (recipes: {known})", 1)
        return project.recipes[name]
    in_file = [r for r in project.recipes.values() if _defined_in(project, r, file)]
    if len(in_file) != 1:
        names = ", ".join(sorted(r.name for r in in_file))
        hint = f" ({names}); name the one to run" if in_file else ""
        raise CommandError(f"runner: {file} holds {len(in_file)} recipes{hint}", 1)
    return in_file[0]


def _defined_in(project: Project, recipe: Recipe, file: str | None) -> bool:
    source = project.sources.get(recipe.name)
    if file is None or source is None:
        return False
    return Path(source).resolve() == Path(file).resolve()


def read_event(path: str) -> dict[str, Any]:
    """The trigger object from a JSON file; mistakes are reported as file:line:column."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"runner: cannot read event file {path}: {exc}", 2) from exc
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{path}:{exc.lineno}:{exc.colno}: the event is not valid JSON: {exc.msg}", 1
        ) from exc
    if not isinstance(data, dict):
        raise CommandError(f"{path}:1:1: the event must be a JSON object (the trigger)", 1)
    for key in ("headers", "query"):
        if key in data and not isinstance(data[key], dict):
            raise CommandError(f"{path}: the event's {key!r} must be an object", 1)
    return data


def webhook_event(given: dict[str, Any] | None) -> dict[str, Any]:
    """A webhook trigger with the defaults a delivery would have; credential headers are `***`,
    as `runner serve` stores and shows those of a delivery."""
    event = {"body": {}, "headers": {}, "query": {}, "method": "POST", "received_at": now_iso()}
    event.update(given or {})
    event["headers"] = mask_credential_headers(event["headers"])
    return event


def poll_event(given: dict[str, Any], key_of: Callable[[Any], str]) -> dict[str, Any]:
    """A poll trigger with the defaults an emitted record would have: its `key` is what the
    recipe's `key` template gives the record, as a poll would emit it."""
    record = given.get("record", {})
    event = {"record": record, "is_update": False, "polled_at": now_iso()}
    event.update(given)
    if "key" not in given:
        event["key"] = key_of(record)
    return event


async def _run(
    project: Project, recipe: Recipe, event: dict[str, Any] | None, args: argparse.Namespace
) -> int:
    redactor = Redactor()
    try:
        used = project.narrowed(connections_used(recipe))
        async with command_runtime(used, args.store, redactor, args.dry_run) as runtime:
            jobs = await _jobs(runtime, recipe, event, args)
    except RunnerError as exc:
        sys.stderr.write(f"runner: {redactor.redact_text(str(exc))}\n")
        return exit_code(exc)
    if args.format == "json":
        payload: Any = [job.to_json() for job in jobs]
        if recipe.poll is None or event is not None:
            payload = payload[0]
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return 1 if any(job.status == "failed" for job in jobs) else 0


async def _jobs(
    runtime: Runtime, recipe: Recipe, event: dict[str, Any] | None, args: argparse.Namespace
) -> list[JobRecord]:
    """The events to run (given, or found by one poll) and the job each one becomes."""
    text = args.format == "text"
    if recipe.poll is not None and event is None:
        if args.dry_run:
            await _show_poll_request(runtime, recipe, sys.stdout if text else sys.stderr)
            return []
        from runner.commands.pollonce import poll_events

        events = await poll_events(runtime, recipe, sys.stdout if text else sys.stderr)
    elif recipe.poll is not None:
        poll, base = recipe.poll, recipe_context(runtime, recipe)
        events = [poll_event(event or {}, lambda record: record_key(poll, record, base))]
    else:
        events = [webhook_event(event)]
    return [await _one_job(runtime, recipe, e, args.dry_run, sys.stdout if text else None)
            for e in events]


async def _show_poll_request(runtime: Runtime, recipe: Recipe, out: TextIO) -> None:
    assert recipe.poll is not None
    where = f"poll of recipe {recipe.name}"
    context = recipe_context(runtime, recipe)
    request, client = render_request(recipe.poll.request, context, runtime, where)
    out.write(f"poll request of recipe {recipe.name} (dry run: not sent, so no job runs;"
              " give --event with a record to dry-run the steps)\n")
    print_request(await dry_record(request, client, runtime.redactor, runtime.body_limit), out)


async def _one_job(
    runtime: Runtime, recipe: Recipe, event: dict[str, Any], dry_run: bool, out: TextIO | None
) -> JobRecord:
    job = new_job(recipe.name, event)
    if out is not None:
        print_job_start(job, recipe, dry_run, out)

    async def show(job: JobRecord, step: StepRecord) -> None:
        if out is not None:
            print_step(step, out)

    job = await run_job(runtime, recipe, job, show, dry_run=dry_run)
    job.event = runtime.redactor.redact_data(job.event)
    if out is not None:
        print_job_end(job, out)
    return job
