"""The pollers: one task per enabled poll recipe, polling on schedule and committing what it finds.

A recipe is never polled twice at once: its task polls, commits, and only then asks when the next
poll is due. After downtime a poll is due at once, once (see `runner.triggers.schedule`). The jobs
a poll emits and its new cursor and seen keys are committed in one transaction, so a restart
neither loses nor repeats a record.

On a store shared by replicas, each poll first takes the recipe's poll lease (`acquire_poll`):
only the replica holding it polls, reading the state the previous poll stored, whichever replica
made it. A replica that dies stops renewing its leases; another takes over once they expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from runner.daemon.active import Active
from runner.engine.job import new_job
from runner.engine.polling import poll_once
from runner.errors import RunnerError
from runner.metrics import Metrics
from runner.recipe.compile import Recipe
from runner.store.base import DEFAULT_LEASE, DEFAULT_OWNER, Store
from runner.triggers.poll import PollState
from runner.triggers.schedule import next_due

log = logging.getLogger(__name__)
FAILURE_BACKOFF = 5.0  # seconds before a poll whose commit failed is tried again


class Pollers:
    """Starts and stops the poll tasks of the active documents (restarted on reload)."""

    def __init__(
        self, store: Store, metrics: Metrics, wake: Callable[[], None],
        owner: str = DEFAULT_OWNER, lease: float = DEFAULT_LEASE,
    ) -> None:
        self.store, self.metrics, self.wake = store, metrics, wake
        self.owner, self.lease = owner, lease
        self.held: set[str] = set()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()

    def start(self, active: Active) -> None:
        self._stop = asyncio.Event()
        for recipe in active.polls:
            loop = self._loop(active, recipe, self._stop)
            self.tasks[recipe.name] = asyncio.create_task(loop, name=f"poll-{recipe.name}")

    async def stop(self) -> None:
        """Lets a poll in progress finish its commit, then ends every poll task."""
        self._stop.set()
        tasks = list(self.tasks.values())
        self.tasks.clear()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for name in list(self.held):  # hand the polls over at once rather than at lease expiry
            with contextlib.suppress(Exception):
                await self.store.release_poll(name, self.owner)
            self.held.discard(name)

    async def _loop(self, active: Active, recipe: Recipe, stop: asyncio.Event) -> None:
        poll = recipe.poll
        assert poll is not None
        state = await self._load(recipe.name, stop)
        if state is None:
            return
        last_run = datetime.fromisoformat(state.polled_at) if state.polled_at else None
        while not stop.is_set():
            now = datetime.now(UTC)
            due = next_due(every=poll.spec.every, cron=poll.spec.schedule, last_run=last_run,
                           now=now, jitter=random.random())
            wait = (due - now).total_seconds()
            if wait > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                    return
                except TimeoutError:
                    pass
            started = datetime.now(UTC)
            self.metrics.poll_lag.observe(max(0.0, (started - due).total_seconds()))
            try:
                if self.store.multi_process:
                    shared = await self._take_turn(recipe.name, stop)
                    if shared is None:  # another replica holds this poll
                        last_run = max(due, started)
                        continue
                    state = shared
                state = await self._poll(active, recipe, state, started)
            except Exception:  # a poller never dies: log, and try at the next due time
                log.exception("poll crashed", extra={"recipe": recipe.name})
            last_run = max(due, started)

    async def _take_turn(self, name: str, stop: asyncio.Event) -> PollState | None:
        """The stored state when this replica holds (or just took) the poll's lease, else None."""
        if not await self.store.acquire_poll(name, self.owner, self.lease):
            self.held.discard(name)
            return None
        self.held.add(name)
        return await self._load(name, stop)

    async def _load(self, name: str, stop: asyncio.Event) -> PollState | None:
        """The state to resume from; retried while the store fails (None once stopped)."""
        while not stop.is_set():
            try:
                stored = await self.store.load_poll_state(name)
                return PollState() if stored is None else PollState.from_json(json.dumps(stored))
            except Exception as exc:
                log.error("cannot read the poll state; not polling until it can be read",
                          extra={"recipe": name, "error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=FAILURE_BACKOFF)
        return None

    async def _poll(
        self, active: Active, recipe: Recipe, state: PollState, started: datetime
    ) -> PollState:
        extra = {"recipe": recipe.name}
        try:
            outcome = await poll_once(active.runtime, recipe, state, now=started)
        except RunnerError as exc:
            self.metrics.polls.labels(recipe.name, "failed").inc()
            log.warning("poll failed", extra={**extra, "error": str(exc)})
            return state
        redact = active.runtime.redactor.redact_data  # stored like a webhook's event
        jobs = [new_job(recipe.name, redact(event)) for event in outcome.events]
        try:
            await self.store.commit_poll(recipe.name, json.loads(outcome.state.to_json()), jobs)
        except Exception:
            log.exception("could not store the poll's results; polling again later", extra=extra)
            await asyncio.sleep(FAILURE_BACKOFF)
            return state
        self.metrics.polls.labels(recipe.name, "succeeded").inc()
        self.metrics.poll_records.labels(recipe.name).inc(len(jobs))
        log.info("polled", extra={**extra, "records": outcome.records, "pages": outcome.pages,
                                  "jobs": len(jobs), "truncated": outcome.truncated})
        if jobs:
            self.wake()
        return outcome.state
