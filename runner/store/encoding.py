"""What every store writes the same way: JSON text, step rows, timestamps, names in messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


MINUTES_KEPT = timedelta(days=2)  # the overview's minute counts: a day shown, a day of margin


def minutes_kept_from() -> str:
    """The oldest minute (`2026-12-05T09:30`) of the overview's counts that prune keeps."""
    return (datetime.now(UTC) - MINUTES_KEPT).strftime("%Y-%m-%dT%H:%M")


def aware(moment: datetime) -> datetime:
    """A naive datetime is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
