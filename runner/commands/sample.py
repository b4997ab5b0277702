"""`runner sample`: run a recipe's job once and keep what it saw in `samples/<recipe>.json`.

The wizard's "apply configuration": the request and response are kept beside the recipe, in
git, where `runner validate` checks datapills against them and `runner datapills` lists them.
The trigger comes from `--event FILE`, from a job in the history (`--job ID`: a real delivery
becomes the sample), from one poll (a poll recipe: its first record), or, for a webhook recipe,
from the sample already recorded. Exit 1 when the job fails (what ran is still recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from runner.commands.common import (
    CommandError,
    check_secrets,
    exit_code,
    fail,
)
from runner.commands.output import print_job_end, print_job_start, print_step
from runner.commands.run import load_recipe, poll_event, read_event, webhook_event
from runner.commands.runtime import command_runtime
from runner.engine.job import new_job, recipe_context, run_job, storable
from runner.engine.records import JobRecord, StepRecord
from runner.engine.runtime import Runtime
from runner.errors import RunnerError, StoreError
from runner.recipe.compile import Project, Recipe, connections_used
from runner.redact import Redactor
from runner.samples.files import (
    Sample,
    SampleError,
    read_sample,
    sample_path,
    write_sample,
)
from runner.samples.record import Recording, merged, recording
from runner.triggers.poll import record_key


def run(args: argparse.Namespace) -> int:
    try:
        project, loaded, recipe = load_recipe(args.recipe, args.paths)
        source = project.sources[recipe.name]
        path = sample_path(source, recipe.name)
        old = _old_sample(path)
        given = _given_event(args, recipe, old)
        used = connections_used(recipe)
        documents = {("connection", c) for c in used}
        check_secrets(loaded, documents | {("recipe", recipe.name)})
        job, new = asyncio.run(_record(project.narrowed(used), recipe, given,
                                       args.store))
    except CommandError as exc:
        return fail(exc)
    if job is None:
        return 1
    sample = merged(old, path, new, [step.id for step in recipe.steps])
    try:
        write_sample(sample)
    except OSError as exc:
        return fail(CommandError(f"runner: cannot write {path}: {exc}", 2))
    _print_written(sample, new)
    return 0 if job.status == "succeeded" else 1


def _old_sample(path: Path) -> Sample | None:
    try:
        return read_sample(path)
    except SampleError as exc:
        raise CommandError(f"{exc}\nrunner: fix or delete the sample, then run `runner sample` "
                           "again", 1) from exc


def _given_event(args: argparse.Namespace, recipe: Recipe, old: Sample | None) -> Any:
    """The trigger the job runs with, or None for a poll recipe that polls for one."""
    if args.event:
        return read_event(args.event)
    if args.job:
        return asyncio.run(_stored_event(args.store, args.job, recipe.name))
    if recipe.poll is not None:
        return None
    if old is not None and old.has_trigger and isinstance(old.trigger, dict):
        return old.trigger
    raise CommandError(
        f"runner: recipe {recipe.name} is started by a webhook: give --event FILE (the trigger "
        "as JSON) or --job ID (a delivery from the job history); an empty event would record a "
        "trigger with no fields", 2)


async def _stored_event(given_store: str | None, job_id: str, recipe: str) -> dict[str, Any]:
    from runner.commands.jobs import require_existing_file, require_existing_schema
    from runner.oauth.wiring import store_url
    from runner.store import open_store

    url = store_url(given_store)
    try:
        require_existing_file(url)
        await require_existing_schema(url)
        store = open_store(url)
        await store.open()
        try:
            job = await store.get_job(job_id)
        finally:
            await store.close()
    except StoreError as exc:
        raise CommandError(f"runner: store: {exc}", 2) from exc
    if job is None:
        raise CommandError(f"runner: no job {job_id} in the store", 1)
    if job.recipe != recipe:
        raise CommandError(f"runner: job {job_id} is a job of recipe {job.recipe}, not {recipe}", 1)
    return dict(job.event)


async def _record(
    project: Project, recipe: Recipe, given: Any, store: str | None
) -> tuple[JobRecord | None, Recording]:
    redactor = Redactor()
    try:
        async with command_runtime(project, store, redactor) as runtime:
            event = await _event(runtime, recipe, given)
            if event is None:
                return None, Recording(None)
            return await _one_job(runtime, recipe, event)
    except RunnerError as exc:
        raise CommandError(f"runner: {redactor.redact_text(str(exc))}", exit_code(exc)) from exc


async def _event(runtime: Runtime, recipe: Recipe, given: Any) -> dict[str, Any] | None:
    if recipe.poll is None:
        return webhook_event(given)
    poll, base = recipe.poll, recipe_context(runtime, recipe)
    if given is not None:
        return poll_event(given, lambda record: record_key(poll, record, base))
    from runner.commands.pollonce import poll_events

    events = await poll_events(runtime, recipe, sys.stdout)
    if not events:
        sys.stderr.write(f"runner: the poll of recipe {recipe.name} found no records, so there "
                         "is nothing to sample; give --event FILE with a record\n")
        return None
    return events[0]


async def _one_job(runtime: Runtime, recipe: Recipe, event: dict[str, Any]) -> tuple[JobRecord, Recording]:
    """Runs the job as `runner run` does; the sample is made from the outputs as the steps saw
    them (whole bodies), redacted like the history, then cut to the body limit as JSON."""
    job = new_job(recipe.name, event)
    print_job_start(job, recipe, False)
    views: dict[str, Any] = {}

    async def show(job: JobRecord, step: StepRecord) -> None:
        print_step(step)

    job = await run_job(runtime, recipe, job, show, views=views)
    job.event = runtime.redactor.redact_data(job.event)
    print_job_end(job)
    outputs = {step_id: runtime.redactor.redact_data(storable(view))
               for step_id, view in views.items()}
    return job, recording(job, outputs, runtime.body_limit)


def _print_written(sample: Sample, new: Recording) -> None:
    recorded = ", ".join(new.entries) or "none"
    lines = [f"\nwrote {sample.path}: the trigger and step(s) {recorded}"]
    for step_id, why in new.not_recorded.items():
        kept = " (the earlier recording is kept)" if step_id in sample.steps else ""
        lines.append(f"  step {step_id} not recorded: {why}{kept}")
    sys.stdout.write("\n".join(lines) + "\n")
