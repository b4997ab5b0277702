"""What every store writes the same way: JSON text, step rows, timestamps, names in messages."""

from __future__ import annotations

from datetime import UTC, datetime

from runner.clock import utc_now_iso
from runner.engine.records import JobRecord
from runner.jsoncodec import dumps

StepRow = tuple[str, str, str]  # job id, step id, the step record as JSON


def step_rows(job: JobRecord) -> list[StepRow]:
    """Each step as stored: the same JSON as `StepRecord.to_json`, encoded from the record."""
    return [(job.id, step.id, dumps(step)) for step in job.steps]


def job_name(job: JobRecord) -> str:
    """How errors name a job."""
    return f"job {job.id} of recipe {job.recipe}"


def now_iso() -> str:
    return utc_now_iso()


def aware(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
