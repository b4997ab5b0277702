"""Job outcomes the store could not take when their job ended, written once it answers again.

A job's end is stored by `finish`. When the store fails then (a database that is unreachable,
locked by another process, out of disk), the job has still run: its record waits here and
`retry()` writes it as soon as the store answers. Until then the job stays `running` in the
store under this replica's lease, which the executor's heartbeat keeps renewing, so no other
replica starts it again. Should this replica stop first, the job is resumed at its first
unrecorded step (on the next start, or by another replica once the lease expires).
"""

from __future__ import annotations

import logging

from runner.engine.records import JobRecord
from runner.errors import StoreError, StoreUnavailable
from runner.store.base import LeaseLost, Store

log = logging.getLogger(__name__)


class PendingOutcomes:
    """Finished jobs waiting for the store, oldest first."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self._jobs: dict[str, JobRecord] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: JobRecord, error: StoreUnavailable) -> None:
        self._jobs[job.id] = job
        log.warning(
            "could not store the job's outcome; it is written as soon as the store answers",
            extra={"job": job.id, "recipe": job.recipe, "status": job.status,
                   "error": str(error)},
        )

    async def retry(self) -> int:
        """Writes the waiting outcomes, oldest first, and returns how many were stored; stops
        at the first that fails the same way (the store is still unavailable)."""
        stored = 0
        for job_id, job in list(self._jobs.items()):
            extra = {"job": job_id, "recipe": job.recipe}
            try:
                await self.store.finish(job, owner=self.owner)
            except LeaseLost:
                log.warning("the job's lease expired before its outcome could be stored; "
                            "another replica runs it", extra=extra)
            except StoreUnavailable:
                return stored
            except StoreError as exc:  # refused for what it holds: trying again cannot help
                log.error(f"the job's outcome cannot be stored: {exc}", extra=extra)
            else:
                stored += 1
                log.info("job outcome stored", extra={**extra, "status": job.status})
            del self._jobs[job_id]
        return stored
