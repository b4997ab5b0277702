"""Replaying a job: a new job with the same event, run from the start or from its failed step.

"Retry from failed step" is what a person on call wants after fixing what broke: the steps that
succeeded are not sent again (a venue created twice is a real mess), their recorded outputs feed
the templates after them, and the job runs on from the first step that failed. This is exactly
the resume path of a job interrupted by a crash (`run_job` skips steps the record already holds),
so the new job is an ordinary queued job that starts out holding copies of those steps.
"""

from __future__ import annotations

import copy

from runner.engine.job import new_job
from runner.engine.records import JobRecord, StepRecord
from runner.errors import RunnerError


class NotRetryable(RunnerError):
    """A job that did not fail has no failed step to retry from (replay runs it again)."""


def replay_job(job: JobRecord, *, from_failed: bool = False) -> JobRecord:
    """A queued job with `job`'s event; with `from_failed`, holding its steps before the first
    failed one, each marked `reused_from` the original job. Raises NotRetryable with
    `from_failed` for a job that is not `failed`."""
    replay = new_job(job.recipe, job.event, replay_of=job.id)
    if from_failed:
        replay.steps = reused_steps(job)
    return replay


def reused_steps(job: JobRecord) -> list[StepRecord]:
    """The steps a retry keeps: those recorded before the first failed step, in order.

    A job that failed outside any step (its recipe could not render `vars`, say) keeps every
    step it recorded. A step that was itself reused keeps pointing at the job that ran it.
    """
    if job.status != "failed":
        raise NotRetryable(f"job {job.id} is {job.status}, not failed: only a failed job can be "
                           "retried from its failed step (a replay runs any job again)")
    kept: list[StepRecord] = []
    for step in job.steps:
        if step.status == "failed":
            break
        reused = copy.deepcopy(step)
        reused.reused_from = step.reused_from or job.id
        kept.append(reused)
    return kept
