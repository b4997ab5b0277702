"""Job outcomes the store could not take when their job ended, written once it answers again.

A job's end is stored by `finish`. When the store fails then (a database that is unreachable,
locked by another process, out of disk), the job has still run: its record waits here and
`retry()` writes it as soon as the store answers. Until then the job stays `running` in the
store under this replica's lease, which the executor's heartbeat keeps renewing, so no other
replica starts it again. Should this replica stop first, the job is resumed at its first
unrecorded step (on the next start, or by another replica once the lease expires).

A job stopped mid-way on a shared store (the store was unavailable for a checkpoint, and another
replica may be about to take the job over) waits here to be released: requeued in its place, to
resume at its first unrecorded step, rather than left `running` under a lease the heartbeat
would renew for as long as this replica lives.
"""

from __future__ import annotations

import logging

from runner.engine.records import JobRecord
from runner.errors import StoreError, StoreUnavailable
from runner.store.base import LeaseLost, Store

log = logging.getLogger(__name__)


class PendingOutcomes:
    """Jobs waiting for the store, oldest first: an outcome to store, or a job to requeue."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self._jobs: dict[str, tuple[bool, JobRecord]] = {}  # id: (store its outcome, else requeue)

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: JobRecord, error: StoreUnavailable) -> None:
        """`job` ended, but its outcome could not be stored."""
        self._jobs[job.id] = (True, job)
        log.warning(
            "could not store the job's outcome; it is written as soon as the store answers",
            extra={"job": job.id, "recipe": job.recipe, "status": job.status,
                   "error": str(error)},
        )

    def release(self, job: JobRecord, error: StoreUnavailable) -> None:
        """`job` stopped mid-way; it is requeued as soon as the store answers."""
        self._jobs[job.id] = (False, job)
        log.warning(
            "the store was unavailable mid-job; the job stops here and resumes at its first "
            "unrecorded step once the store answers",
            extra={"job": job.id, "recipe": job.recipe, "error": str(error)},
        )

    async def retry(self) -> int:
        """Makes the waiting writes, oldest first, and returns how many were made; stops at the
        first the store is still unavailable for."""
        done = 0
        for job_id, (finish, job) in list(self._jobs.items()):
            extra = {"job": job_id, "recipe": job.recipe}
            try:
                if finish:
                    await self.store.finish(job, owner=self.owner)
                elif not await self.store.release_job(job_id, self.owner):
                    raise LeaseLost(job_id)
            except LeaseLost:
                log.warning("the job's lease expired meanwhile; another replica runs it",
                            extra=extra)
            except StoreUnavailable:
                return done
            except StoreError as exc:  # refused for what it holds: trying again cannot help
                log.error(f"the job cannot be written: {exc}", extra=extra)
            else:
                done += 1
                message = "job outcome stored" if finish else "job requeued"
                log.info(message, extra={**extra, "status": job.status if finish else "queued"})
            del self._jobs[job_id]
        return done
