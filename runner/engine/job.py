"""Running one job: the template context, the steps in order, checkpoints, and the outcome.

A job that already holds finished steps (it was interrupted) resumes at its first unfinished
step: finished steps are never sent again, and their stored outputs feed the templates after them.

Later steps of a running job see earlier outputs as they arrived; the record keeps them redacted
(a secret echoed by an API, and the value of a credential header such as `Set-Cookie`, are `***`
there). So a resumed job's templates see the redacted copy: the price of never storing a secret.

The credential header values a job sends are hidden, by value, in its records as well (the
`StepRunner`'s redactor): an API may echo them.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from runner.clock import utc_now_iso
from runner.engine.messages import Headers
from runner.engine.recording import cut_output
from runner.engine.records import JobRecord, StepRecord
from runner.engine.runtime import Runtime
from runner.engine.steps import StepRunner
from runner.errors import RunnerError
from runner.recipe.compile import Recipe
from runner.redact import mask_credential_headers
from runner.templating import render_tree

Checkpoint = Callable[[JobRecord, StepRecord], Awaitable[None]]


_ID_PREFIX = secrets.token_hex(10)  # 80 random bits per process: ids never collide across replicas
_ID_COUNTER = itertools.count(1)


def new_job_id() -> str:
    """A job id: unique, URL-safe, usable in an Idempotency-Key, and cheap to make (a webhook
    makes one per request: a random per-process prefix and a counter, 32 hex characters)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def now_iso() -> str:
    """Timestamps of records: UTC, ISO 8601, so they sort as text."""
    return utc_now_iso()


def new_job(recipe: str, event: dict[str, Any], replay_of: str | None = None) -> JobRecord:
    """A queued job for `event` (store the event redacted: it is kept as it is given)."""
    return JobRecord(new_job_id(), recipe, "queued", event, now_iso(), replay_of=replay_of)


def step_view(output: Any) -> Any:
    """A stored step output as templates see it (headers become case-insensitive again)."""
    if isinstance(output, list):
        return [step_view(item) for item in output]
    if isinstance(output, dict) and isinstance(output.get("headers"), dict):
        return {**output, "headers": Headers(output["headers"])}
    return output


def _stored_headers(headers: Any) -> Any:
    if isinstance(headers, Headers):  # its own copy: cheaper than reading it name by name
        return mask_credential_headers(headers.to_dict())
    return mask_credential_headers(headers) if isinstance(headers, Mapping) else headers


def storable(output: Any) -> Any:
    """A step output as JSON can hold it, credential headers (`Set-Cookie`, ...) as `***`."""
    if isinstance(output, list):
        return [storable(item) for item in output]
    if isinstance(output, dict):
        return {k: (_stored_headers(v) if k == "headers" else v) for k, v in output.items()}
    return output


def trigger_view(event: dict[str, Any]) -> dict[str, Any]:
    """The event as templates see it: `trigger.headers` ignores case, as HTTP headers do."""
    headers = event.get("headers")
    if isinstance(headers, dict):
        return {**event, "headers": Headers(headers)}
    return event


def recipe_context(runtime: Runtime, recipe: Recipe) -> dict[str, Any]:
    """`secrets`, `recipe` and `vars`: what every template of a recipe sees (polls included)."""
    context = runtime.context_base()
    context["recipe"] = {"name": recipe.name, "description": recipe.spec.description}
    context["vars"] = render_tree(recipe.vars, context)
    return context


def job_context(
    runtime: Runtime, recipe: Recipe, job: JobRecord, steps: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The names a recipe's step templates see (steps are added as they finish). `steps`, when
    given, are the outputs as the steps saw them (see `run_job`'s views), else the stored ones."""
    context = recipe_context(runtime, recipe)
    context["trigger"] = trigger_view(job.event)
    context["job"] = {"id": job.id, "started_at": job.started_at, "created_at": job.created_at}
    context["steps"] = steps if steps is not None else {
        s.id: step_view(s.output) for s in job.steps}
    return context


async def run_job(
    runtime: Runtime,
    recipe: Recipe,
    job: JobRecord,
    checkpoint: Checkpoint | None = None,
    dry_run: bool = False,
    views: dict[str, Any] | None = None,
) -> JobRecord:
    """Runs the job's remaining steps; the record it returns is the job's final state.

    `views`, when given, receives each step's output as later steps saw it (whole bodies, real
    values), for a caller that renders after the job: a sync webhook's `response`. The record
    holds the stored outputs (redacted, bodies cut)."""
    job.status, job.started_at = "running", job.started_at or now_iso()
    try:
        context = job_context(runtime, recipe, job)
    except RunnerError as exc:
        return _finish(job, "failed", runtime.redactor.redact_text(f"recipe {recipe.name}: {exc}"))
    done = {s.id for s in job.steps}
    runner = StepRunner(runtime, job.id, dry_run)
    if views is not None:
        views.update(context["steps"])
        context["steps"] = views  # filled as the steps finish
    for step in recipe.steps:
        if step.id in done:
            continue
        record = await runner.run(step, context)
        live = record.output
        record.output = runner.redactor.redact_data(storable(live))
        if any(c.response is not None and c.response.body_truncated for c in record.calls):
            record.output = cut_output(record.output, runtime.body_limit)
        job.steps.append(record)
        context["steps"][step.id] = step_view(live)
        if checkpoint is not None:
            await checkpoint(job, record)
        if record.status == "failed" and step.on_error == "fail":
            return _finish(job, "failed", record.error)
    return _finish(job, "succeeded", None)


def _finish(job: JobRecord, status: str, error: str | None) -> JobRecord:
    job.status = status  # type: ignore[assignment]
    job.error = error
    job.finished_at = now_iso()
    return job
