"""The daemon's lifecycle: start, reload, drain and stop, around the store, workers and pollers."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from secrets import token_hex
from typing import Any
from urllib.parse import unquote, urlsplit

from runner import heap
from runner.daemon.active import Active, load_active
from runner.daemon.demo import DemoApi
from runner.daemon.executor import Executor
from runner.daemon.poller import Pollers
from runner.daemon.settings import Settings
from runner.errors import DocumentError, RunnerError
from runner.metrics import Metrics
from runner.oauth.wiring import make_auth_factory, make_callback_handler, require_secret_key
from runner.recipe.loader import PathNotFound, find_files
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.store import open_store
from runner.ui.access import Access

log = logging.getLogger(__name__)
FIRST_PRUNE_AFTER = 30.0  # seconds after start: out of the way of start-up's own work
RELEASE_TIMEOUT = 5.0  # seconds a stopping replica tries to hand its jobs back before it exits


class Daemon:
    """Holds what the HTTP handlers share; `active` is swapped whole on reload."""

    def __init__(self, settings: Settings, secrets: SecretSource | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or SecretSource()
        self.redactor = Redactor()
        store_password = urlsplit(settings.store).password  # the store URL is logged at start
        if store_password:
            self.redactor.add(unquote(store_password))
        self.metrics = Metrics()
        self.access = Access.from_settings(settings.api_token, settings.host, settings.ui_session)
        self.demo = DemoApi()
        self.store = open_store(settings.store)
        self.active: Active | None = None
        self.accepting = False
        # Leases are held by this process, not by the name: a replica restarted under the same
        # RUNNER_REPLICA must not renew (and so strand) the leases its killed predecessor held.
        self.owner = f"{settings.replica}/{token_hex(4)}"
        self.executor = Executor(self.store, self.metrics, self._loaded, settings.workers,
                                 owner=self.owner, lease=settings.lease)
        # OAuth2: tokens live in our store (read lazily); GET /oauth/callback completes a flow
        # that `runner connect --via-server` started.
        self.auth_factory = make_auth_factory(self.store, self.secrets)
        self.complete_oauth = make_callback_handler(
            lambda: None if self.active is None else self.active.runtime
        )
        self.pollers = Pollers(self.store, self.metrics, self.executor.wake,
                               owner=self.owner, lease=settings.lease)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retired: list[Active] = []  # replaced by a reload; closed once their jobs end
        self._reloading = asyncio.Lock()

    def load(self) -> Active:
        """The documents, validated and compiled; DocumentError or RunnerError says why not."""
        active = load_active(self.settings.paths, self.secrets, self.redactor, self.auth_factory)
        require_secret_key(active.project, self.secrets)  # stored tokens need RUNNER_SECRET_KEY
        return active


    def _loaded(self) -> Active:
        """The documents in force (the worker pool starts only once they are loaded)."""
        assert self.active is not None, "the documents are not loaded yet"
        return self.active

    async def start(self) -> None:
        """Loads documents (raising DocumentError), opens the store, resumes interrupted jobs."""
        self.active = self.load()
        await self.store.open()
        # A store of our own: every job left running was ours, resume it now. A shared store:
        # only jobs whose lease expired (their replica died) are requeued, by `maintain`.
        shared = self.store.multi_process
        recovered = await (self.store.recover_expired() if shared else self.store.recover())
        if recovered:
            log.info("resuming interrupted jobs", extra={"jobs": recovered})
        self._spawn(self.executor.run(), "executor")
        self._spawn(self.executor.maintain(), "leases")
        self._spawn(self._prune_loop(), "prune")
        if self.settings.reload:
            self._spawn(self._watch(), "watch")
        self.pollers.start(self.active)
        self.accepting = True
        log.info("documents loaded", extra={"recipes": len(self.active.project.recipes),
                                            "connections": len(self.active.project.connections),
                                            "webhooks": sorted(self.active.webhooks),
                                            "replica": self.owner})

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        """A background task, kept until it ends (an unreferenced task may be collected)."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def request_reload(self) -> None:
        """SIGHUP: reload in a task of our own."""
        self._spawn(self.reload(), "reload")

    async def reload(self) -> bool:
        """Switches to the documents as they are now; keeps the old ones when they are invalid."""
        async with self._reloading:  # two quick SIGHUPs reload one after the other
            if not self.accepting:
                return False  # shutting down
            try:
                new = self.load()
            except DocumentError as exc:
                log.error("reload refused: the documents are invalid; keeping the previous ones",
                          extra={"problems": [str(d) for d in exc.diagnostics]})
                return False
            except (RunnerError, PathNotFound) as exc:
                log.error("reload refused; keeping the previous documents",
                          extra={"error": str(exc)})
                return False
            await self.pollers.stop()
            old, self.active = self.active, new
            self.pollers.start(new)
        if old is not None:
            self._retired.append(old)
            self._spawn(self._close_when_idle(old, list(self.executor.running.values())), "retire")
        log.info("documents reloaded", extra={"recipes": len(new.project.recipes),
                                              "webhooks": sorted(new.webhooks)})
        return True

    async def _close_when_idle(self, old: Active, jobs: list[asyncio.Task[None]]) -> None:
        """Old clients stay open while the jobs that may have started with them run."""
        if jobs:
            await asyncio.wait(jobs)
        self._retired.remove(old)
        await old.runtime.close()
        del old
        heap.resettle()  # the retired documents may hold cycles the frozen heap would keep

    async def stop(self) -> None:
        """Stops accepting, lets running jobs finish within the grace period, hands the rest back
        to the queue, closes the store."""
        self.accepting = False
        await self.pollers.stop()
        left = await self.executor.drain(self.settings.shutdown_grace)
        await self._release_jobs(left)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for active in [*self._retired, self.active]:
            if active is not None:
                await active.runtime.close()
        await self.store.close()

    async def _release_jobs(self, left: int) -> None:
        """Hands the jobs this replica leaves unfinished back to the queue: on a shared store
        another replica resumes them now rather than when their lease runs out; on a store of
        its own the history says `queued` while the daemon is down, not `running` with nothing
        running them. When the store cannot be reached, the next start (or the leases' expiry)
        requeues them anyway."""
        shared = self.store.multi_process
        try:
            released = await asyncio.wait_for(self.store.release_jobs(self.owner), RELEASE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 -- whatever the failure, they are requeued later
            later = ("other replicas resume them when their lease runs out" if shared
                     else "they resume on the next start")
            log.warning(f"jobs still running at the end of the grace period could not be handed "
                        f"back; {later}", extra={"jobs": left, "error": str(exc)})
            return
        if left or released:
            who = "another replica resumes them" if shared else "they resume on the next start"
            log.warning(f"jobs still running at the end of the grace period were handed back to "
                        f"the queue; {who}", extra={"jobs": released})

    async def store_ready(self) -> bool:
        try:
            return await asyncio.wait_for(self.store.ping(), 2.0)
        except Exception:
            return False

    async def _prune_loop(self) -> None:
        """Job history within both limits: a finished job goes once it is older than
        `retention_age`, and the oldest go once there are more than `retention_count`. The first
        check comes soon after start (a daemon redeployed more often than hourly still prunes),
        then one every `prune_every`."""
        wait = min(FIRST_PRUNE_AFTER, self.settings.prune_every)
        while True:
            await asyncio.sleep(wait)
            wait = self.settings.prune_every
            try:
                cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.retention_age)
                pruned = await self.store.prune(older_than=cutoff)
                pruned += await self.store.prune(keep_last=self.settings.retention_count)
                if pruned:
                    log.info("pruned job history", extra={"jobs": pruned})
            except Exception:
                log.exception("pruning job history failed")

    async def _watch(self) -> None:
        """`--reload`: reloads when a document file changes, appears or disappears."""
        last = _snapshot(self.active.files if self.active else [])
        while True:
            await asyncio.sleep(1.0)
            try:
                files = [str(p) for p in find_files(self.settings.paths or None)]
            except Exception:
                continue
            now = _snapshot(files)
            if now != last:
                last = now
                await self.reload()


def _snapshot(files: list[str]) -> dict[str, float]:
    stamps = {}
    for name in files:
        try:
            stamps[os.path.abspath(name)] = Path(name).stat().st_mtime
        except OSError:
            continue
    return stamps
