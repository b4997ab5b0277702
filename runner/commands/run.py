"""`runner run`: one job now, in the foreground, printing each step's request and response.

This is the command-line form of an HTTP wizard: iterate on a request by running it and reading
the whole response. `--dry-run` renders every request and sends none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from runner.commands.common import CommandError, fail, load_project, recipe_argument
from runner.commands.output import print_job_end, print_job_start, print_step
from runner.engine.job import new_job, now_iso, run_job
from runner.engine.records import JobRecord
from runner.engine.runtime import Runtime, build_runtime
from runner.errors import RunnerError
from runner.recipe.compile import Project, Recipe


def run(args: argparse.Namespace) -> int:
    try:
        name, file = recipe_argument(args.recipe)
        project, _ = load_project(args.paths, file)
        recipe = _pick_recipe(project, name, file)
        event = _read_event(args.event) if args.event else None
        return asyncio.run(_run(project, recipe, event, args))
    except CommandError as exc:
        return fail(exc)
    except RunnerError as exc:
        sys.stderr.write(f"runner: {exc}\n")
        return 1


def _pick_recipe(project: Project, name: str | None, file: str | None) -> Recipe:
    if name is not None:
        if name not in project.recipes:
            known = ", ".join(sorted(project.recipes)) or "none"
            raise CommandError(f"runner: no recipe named '{name}' (recipes: {known})", 1)
        return project.recipes[name]
    in_file = [
        r for r in project.recipes.values()
        if r.spec is not None and _defined_in(project, r, file)
    ]
    if len(in_file) != 1:
        raise CommandError(
            f"runner: {file} holds {len(in_file)} recipes; name the one to run instead", 1
        )
    return in_file[0]


def _defined_in(project: Project, recipe: Recipe, file: str | None) -> bool:
    source = project.sources.get(recipe.name)
    return file is not None and source is not None and Path(source).resolve() == Path(file).resolve()


def _read_event(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"runner: cannot read event file: {exc}", 2) from exc
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{path}:{exc.lineno}:{exc.colno}: the event is not valid JSON: {exc.msg}", 1
        ) from exc
    if not isinstance(data, dict):
        raise CommandError(f"{path}:1:1: the event must be a JSON object (the trigger)", 1)
    return data


def webhook_event(given: dict[str, Any] | None) -> dict[str, Any]:
    """A webhook trigger with the defaults a delivery would have."""
    event = {"body": {}, "headers": {}, "query": {}, "method": "POST", "received_at": now_iso()}
    event.update(given or {})
    return event


def poll_event(given: dict[str, Any]) -> dict[str, Any]:
    """A poll trigger with the defaults an emitted record would have."""
    record = given.get("record", {})
    key = given.get("key", record.get("id") if isinstance(record, dict) else None)
    event = {"record": record, "key": key, "is_update": False, "polled_at": now_iso()}
    event.update(given)
    return event


async def _run(project: Project, recipe: Recipe, event: dict[str, Any] | None, args: argparse.Namespace) -> int:
    runtime = build_runtime(project)
    try:
        if recipe.poll is not None and event is None:
            from runner.commands.pollonce import poll_events

            events = await poll_events(runtime, recipe, sys.stderr if args.format == "text" else None)
        elif recipe.poll is not None:
            events = [poll_event(event or {})]
        else:
            events = [webhook_event(event)]
        jobs = [await _one_job(runtime, recipe, e, args) for e in events]
    finally:
        await runtime.close()
    if args.format == "json":
        payload: Any = [j.to_json() for j in jobs]
        if recipe.poll is None or event is not None:
            payload = payload[0]
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return 1 if any(j.status == "failed" for j in jobs) else 0


async def _one_job(runtime: Runtime, recipe: Recipe, event: dict[str, Any], args: argparse.Namespace) -> JobRecord:
    job = new_job(recipe.name, runtime.redactor.redact_data(event))
    job.event = event
    text = args.format == "text"
    if text:
        print_job_start(job, recipe, args.dry_run)

    async def show(job: JobRecord, step: Any) -> None:
        if text:
            print_step(step)

    job = await run_job(runtime, recipe, job, show, dry_run=args.dry_run)
    job.event = runtime.redactor.redact_data(job.event)
    if text:
        print_job_end(job)
    return job
