"""Queueing a replay of a stored job in the daemon: what the jobs API and the pages share."""

from __future__ import annotations

from typing import Any

from runner.engine.records import JobRecord
from runner.engine.replay import NotRetryable, replay_job


class ReplayRefused(Exception):
    """Why a replay was not queued: `status`, a `code` and a message, as the API answers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def queue_replay(daemon: Any, job_id: str, *, from_failed: bool) -> JobRecord:
    """The new queued job; ReplayRefused for an unknown job, a recipe this daemon does not load
    (the job would fail at once: "no longer loaded") and a retry of a job that did not fail."""
    job = await daemon.store.get_job(job_id)
    if job is None:
        raise ReplayRefused(404, "unknown-job", f"no job {job_id}")
    if daemon.active is not None and job.recipe not in daemon.active.project.recipes:
        raise ReplayRefused(409, "recipe-not-loaded", f"recipe {job.recipe} is not loaded here, "
                            "so its job cannot be replayed")
    try:
        replay = replay_job(job, from_failed=from_failed)
    except NotRetryable as exc:
        raise ReplayRefused(409, "not-failed", str(exc)) from None
    await daemon.store.enqueue(replay)
    daemon.executor.wake()
    return replay
