"""The worker pool: claims queued jobs from the store and runs them, checkpointing every step.

A global limit (`workers`) bounds the jobs running in this process; the store enforces each
recipe's `concurrency` (1 keeps trigger order), across replicas too. A job whose task is cancelled
by shutdown stays `running` in the store and is requeued (by the daemon's stop on a shared store,
on the next start otherwise), resuming at its first unfinished step. Claims carry a lease in this
replica's name, renewed by `maintain()`; on a store shared by replicas, `maintain()` also requeues
the jobs of replicas whose leases expired, and claims take only the recipes loaded here.

Every checkpoint and finish is fenced with this replica's owner name: when the job was taken away
meanwhile (the lease expired while this replica stalled), the store refuses with `LeaseLost` and
the job stops here quietly, leaving its outcome to the replica that runs it now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from runner.clock import utc_now_iso
from runner.daemon.active import Active
from runner.daemon.outcomes import PendingOutcomes
from runner.engine.job import run_job
from runner.engine.records import JobRecord, StepRecord
from runner.errors import StoreUnavailable
from runner.logs import log_fields
from runner.metrics import Metrics
from runner.recipe.compile import Recipe
from runner.store.base import DEFAULT_LEASE, DEFAULT_OWNER, LeaseLost, Store

log = logging.getLogger(__name__)


class Finished(NamedTuple):
    """What a waiter for a job gets: its final record, and the step outputs as the steps saw
    them (whole bodies, real values) when this process ran every step, else None."""

    job: JobRecord
    views: dict[str, Any] | None
IDLE_POLL = 1.0  # seconds between store checks when nothing woke the pool
FOLLOW_EVERY = 0.2  # seconds between store reads while a sync webhook waits on a shared store
OUTCOME_RETRY_AT_STOP = 5.0  # seconds a stop waits for the store to take pending outcomes


class Executor:
    def __init__(
        self, store: Store, metrics: Metrics, active: Callable[[], Active], workers: int,
        owner: str = DEFAULT_OWNER, lease: float = DEFAULT_LEASE,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.active = active
        self.workers = workers
        self.owner = owner
        self.lease = lease
        self.running: dict[str, asyncio.Task[None]] = {}
        # Read when /metrics is scraped, rather than set on every job's start and end.
        metrics.running.set_function(lambda: len(self.running))
        self.waiters: dict[str, asyncio.Future[Finished]] = {}
        # Step outputs as the steps of a job someone waits for saw them (see `run_job`), while
        # it runs: handed to its waiter with the record, for a sync webhook's response.
        self.views: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._reserved = 0  # slots promised to webhooks claiming their job at enqueue
        self._unlogged: dict[str, StepRecord] = {}  # a job's last step, logged after `finish`
        self._idle = asyncio.Event()  # set while `run` is not inside a claim
        self._idle.set()
        # Whether the store may hold jobs to claim: until a claim finds none queued. A finished
        # job wakes the pool only then (or on a shared store, where other replicas enqueue), so
        # a busy daemon whose webhooks start their jobs at enqueue makes no claim per job.
        self._maybe_queued = True
        self._enqueued = 0  # wake() calls, so a claim knows whether one came while it ran
        self.pending = PendingOutcomes(store, owner)  # outcomes the store refused for a while

    def reserve(self) -> bool:
        """A worker slot for a job the caller may claim at enqueue (see `start_claimed`)."""
        if self._stopping or len(self.running) + self._reserved >= self.workers:
            return False
        self._reserved += 1
        return True

    def release(self) -> None:
        """Gives back a reservation that was not used (the store queued the job instead)."""
        self._reserved -= 1

    def start_claimed(self, job: JobRecord) -> None:
        """Runs a job the store claimed for us at enqueue, in the slot `reserve` kept for it.

        When shutdown began meanwhile the job is left as the store has it (running, leased): it
        resumes on the next start, like any job a shutdown interrupts."""
        self._reserved -= 1
        if self._stopping:
            return
        job.status = "running"
        self.running[job.id] = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")

    def wake(self) -> None:
        """Something was enqueued: claim now rather than at the next idle check. With no slot
        free there is nothing to claim it into (a finishing job wakes the pool anyway), so the
        pool is left asleep: an accept-only replica takes thousands of webhooks a second."""
        self._enqueued += 1
        self._maybe_queued = True
        if len(self.running) + self._reserved < self.workers:
            self._wake.set()

    def waiter(self, job_id: str) -> asyncio.Future[Finished]:
        """A future resolved with the job's final record when it finishes, and the views its
        steps saw when this process ran them all (None when the record came from the store)."""
        future = self.waiters.get(job_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self.waiters[job_id] = future
            if self.store.multi_process:  # another replica may run it: watch the store too
                task = asyncio.create_task(self._follow(job_id, future), name=f"follow-{job_id}")
                future.add_done_callback(lambda _: task.cancel())
        return future

    async def _follow(self, job_id: str, future: asyncio.Future[Finished]) -> None:
        """Resolves `future` when the store shows the job finished, whoever ran it."""
        while not future.done():
            await asyncio.sleep(FOLLOW_EVERY)
            try:
                job = await self.store.get_job(job_id)
            except Exception:
                continue
            if job is not None and job.status in ("succeeded", "failed") and not future.done():
                self.waiters.pop(job_id, None)
                future.set_result(Finished(job, None))

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            claimed = 0
            free = self.workers - len(self.running) - self._reserved
            if free > 0:
                self._idle.clear()
                try:
                    claimed = await self._claim(free)
                finally:
                    self._idle.set()
            if claimed == 0 or claimed == free:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL if claimed == 0 else 0.05):
                        await self._wake.wait()

    async def _claim(self, free: int) -> int:
        active = self.active()
        concurrency = {n: r.spec.concurrency for n, r in active.project.recipes.items()}
        # Replicas may load different documents for a while (a rolling update): each takes only
        # the jobs it can run. Alone on its store, this process is the only one that could run a
        # job, so one of a recipe it no longer has is claimed and failed with a clear error
        # rather than left queued forever.
        recipes = set(concurrency) if self.store.multi_process else None
        enqueued = self._enqueued
        try:
            jobs = await self.store.claim(
                free, {}, concurrency, owner=self.owner, lease=self.lease, recipes=recipes
            )
        except Exception:
            log.exception("claiming jobs failed; retrying")
            await asyncio.sleep(IDLE_POLL)
            return 0
        if self._enqueued == enqueued:  # nothing was enqueued while the claim looked
            self._maybe_queued = jobs.backlog
        for job in jobs:
            if job.id in self.running:
                # Requeued while this process stalled, then claimed back by it: the task still
                # running it goes on (its writes pass the fence again), never a second one.
                continue
            task = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")
            self.running[job.id] = task
        return len(jobs)

    async def _run_job(self, job: JobRecord) -> None:
        extra = {"job": job.id, "recipe": job.recipe}
        recorded = True
        try:
            await self._store_outcome(await self._execute(job, extra))
        except LeaseLost:
            recorded = self._lost(job, extra)
        except asyncio.CancelledError:
            log.warning("job interrupted by shutdown; it resumes at its first unfinished step",
                        extra=extra)
            raise
        except StoreUnavailable as exc:  # a checkpoint on a shared store (see `_checkpointer`)
            self.pending.release(job, exc)  # no outcome: whoever resumes the job reports it
            recorded = False
        except Exception as exc:  # the daemon never dies on one bad job
            log.exception("job crashed", extra=extra)
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            job.finished_at = utc_now_iso()
            recorded = await self._finish_quietly(job, extra)
        finally:
            self._unlogged.pop(job.id, None)
            self.running.pop(job.id, None)
            views = self.views.pop(job.id, None)  # whatever the way out: nothing kept
            if self._maybe_queued or self.store.multi_process:
                self._wake.set()  # a worker is free: claim what waits
        if recorded:
            self._report(job, extra, views)

    async def _store_outcome(self, job: JobRecord) -> None:
        """`finish`; when the store is unavailable for a while, the outcome waits in `pending`
        (the job has run: its end is reported now and stored once the store answers). A write
        the store refuses for what it holds is not retried: the job counts as crashed."""
        try:
            await self.store.finish(job, owner=self.owner)
        except StoreUnavailable as exc:
            self.pending.add(job, exc)
            return
        if (step := self._unlogged.pop(job.id, None)) is not None:
            _log_step(job, step)

    async def _execute(self, job: JobRecord, extra: dict[str, str]) -> JobRecord:
        """Runs the job's remaining steps (checkpointing each) and returns its final record."""
        active = self.active()
        recipe = active.project.recipes.get(job.recipe)
        if recipe is None:
            job.status, job.error = "failed", f"recipe {job.recipe} is no longer loaded"
            job.finished_at = utc_now_iso()
            return job
        log.debug("job started", extra={**extra, "resumed_steps": len(job.steps)})
        views = self.views.setdefault(job.id, {}) if job.id in self.waiters else None
        return await run_job(active.runtime, recipe, job, self._checkpointer(recipe), views=views)

    def _lost(self, job: JobRecord, extra: dict[str, str]) -> bool:
        """The store refused a write: the job is another replica's now. Nothing is reported
        (no outcome, no metric, no answer to a sync waiter, which follows the store instead)."""
        log.warning(f"lost the lease of job {job.id}; another replica runs it", extra=extra)
        return False

    def _checkpointer(self, recipe: Recipe) -> Callable[[JobRecord, StepRecord], Awaitable[None]]:
        """Stores each finished step, except one the job ends with: `finish` stores that one in
        the same write (a crash in between re-sends it either way, with its Idempotency-Key)."""
        last = recipe.steps[-1].id if recipe.steps else None
        fatal = {s.id for s in recipe.steps if s.on_error == "fail"}

        async def checkpoint(job: JobRecord, step: StepRecord) -> None:
            ends_job = step.id == last or (step.status == "failed" and step.id in fatal)
            self.metrics.step_seconds.observe(step.duration_ms / 1000, job.recipe)
            if ends_job:  # logged once `finish` has stored it: a logged step is a stored step
                self._unlogged[job.id] = step
                return
            try:
                await self.store.checkpoint(job.id, step, owner=self.owner)
            except StoreUnavailable as exc:
                if self.store.multi_process:
                    # Cut off from a shared store: stop at once, as docs/replicas.md promises,
                    # and let `pending` requeue the job when the store answers.
                    raise
                # Alone on its store, this process is the only one that could run the job: the
                # step stays in the job's record, `finish` stores the steps not yet stored, and
                # the job goes on rather than fail for a store that is away for a while.
                log.warning("could not checkpoint the step; the job goes on and stores it at "
                            "its end", extra={"job": job.id, "recipe": job.recipe,
                                             "step": step.id, "error": str(exc)})
                return
            _log_step(job, step)

        return checkpoint

    async def _finish_quietly(self, job: JobRecord, extra: dict[str, str]) -> bool:
        """Records a crashed job's failure; False when the job turned out to be another's."""
        try:
            await self.store.finish(job, owner=self.owner)
        except LeaseLost:
            return self._lost(job, extra)
        except Exception:
            log.exception("could not record the job's failure", extra={"job": job.id})
        return True

    def _report(
        self, job: JobRecord, extra: dict[str, str], views: dict[str, Any] | None = None
    ) -> None:
        self.metrics.jobs.inc(job.recipe, job.status)
        level = logging.INFO if job.status == "succeeded" else logging.WARNING
        fields = {**extra, "status": job.status, "error": job.error, "steps": len(job.steps)}
        log_fields(log, level, f"job {job.status}", fields)
        future = self.waiters.pop(job.id, None)
        if future is not None and not future.done():
            future.set_result(Finished(job, views))

    async def maintain(self) -> None:
        """Renews this replica's leases; on a shared store, requeues jobs of replicas that died."""
        every = self.lease / 3
        while not self._stopping:
            await asyncio.sleep(every)
            try:
                if self.pending:
                    await self.pending.retry()
                    self._maybe_queued = True  # a retry may have requeued a job
                if self.running or self.pending:
                    await self.store.heartbeat(self.owner, self.lease)
                if self.store.multi_process:
                    requeued = await self.store.recover_expired()
                    if requeued:
                        log.warning("requeued jobs whose replica stopped renewing its lease",
                                    extra={"jobs": requeued})
                        self.wake()
            except Exception:
                log.exception("renewing leases failed; trying again")

    async def drain(self, grace: float) -> int:
        """Stops claiming, lets running jobs finish within `grace`, cancels the rest."""
        self._stopping = True
        self._wake.set()
        await self._idle.wait()  # jobs a claim in progress returns are drained with the rest
        tasks = list(self.running.values())
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        left = [t for t in tasks if not t.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        for future in self.waiters.values():  # `respond: sync` requests answer now, not at timeout
            future.cancel()
        self.waiters.clear()
        if self.pending:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pending.retry(), OUTCOME_RETRY_AT_STOP)
            if self.pending:
                log.warning("some job outcomes could not be stored before stopping; those jobs "
                            "resume at their first unrecorded step",
                            extra={"jobs": len(self.pending)})
        return len(left)


def _log_step(job: JobRecord, step: StepRecord) -> None:
    """A line per step: at debug level (the job's own line tells how it ended), at warning
    level for a step that failed."""
    level = logging.WARNING if step.status == "failed" else logging.DEBUG
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "step finished",
        extra={"job": job.id, "recipe": job.recipe, "step": step.id, "status": step.status,
               "duration_ms": step.duration_ms},
    )
