"""The daemon's lifecycle: start, reload, drain and stop, around the store, workers and pollers."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from runner.daemon.active import Active, load_active
from runner.daemon.demo import DemoApi
from runner.daemon.executor import Executor
from runner.daemon.poller import Pollers
from runner.daemon.settings import Settings
from runner.errors import DocumentError, RunnerError
from runner.metrics import Metrics
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.store import open_store

log = logging.getLogger(__name__)


class Daemon:
    """Holds what the HTTP handlers share; `active` is swapped whole on reload."""

    def __init__(self, settings: Settings, secrets: SecretSource | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or SecretSource()
        self.redactor = Redactor()
        self.metrics = Metrics()
        self.demo = DemoApi()
        self.store = open_store(settings.store)
        self.active: Active | None = None
        self.accepting = False
        self.executor = Executor(self.store, self.metrics, lambda: self.active, settings.workers)
        self.pollers = Pollers(self.store, self.metrics, self.executor.wake)
        self._tasks: list[asyncio.Task[Any]] = []

    def load(self) -> Active:
        return load_active(self.settings.paths, self.secrets, self.redactor)

    async def start(self) -> None:
        """Loads documents (raising DocumentError), opens the store, resumes interrupted jobs."""
        self.active = self.load()
        await self.store.open()
        recovered = await self.store.recover()
        if recovered:
            log.info("resuming interrupted jobs", extra={"jobs": recovered})
        self._tasks.append(asyncio.create_task(self.executor.run(), name="executor"))
        self._tasks.append(asyncio.create_task(self._prune_loop(), name="prune"))
        if self.settings.reload:
            self._tasks.append(asyncio.create_task(self._watch(), name="watch"))
        self.pollers.start(self.active)
        self.accepting = True
        log.info("documents loaded", extra={"recipes": len(self.active.project.recipes),
                                            "connections": len(self.active.project.connections),
                                            "webhooks": sorted(self.active.webhooks)})

    async def reload(self) -> bool:
        """Switches to the documents as they are now; keeps the old ones when the new are invalid."""
        try:
            new = self.load()
        except DocumentError as exc:
            log.error("reload refused: the documents are invalid; keeping the previous ones",
                      extra={"problems": [str(d) for d in exc.diagnostics]})
            return False
        except RunnerError as exc:
            log.error("reload refused; keeping the previous documents", extra={"error": str(exc)})
            return False
        await self.pollers.stop()
        old, self.active = self.active, new
        self.pollers.start(new)
        if old is not None:
            self._tasks.append(asyncio.create_task(self._close_later(old)))
        log.info("documents reloaded", extra={"recipes": len(new.project.recipes)})
        return True

    async def _close_later(self, old: Active) -> None:
        """Old clients stay open while jobs that started with them finish."""
        await asyncio.sleep(self.settings.shutdown_grace)
        await old.runtime.close()

    async def stop(self) -> None:
        """Stops accepting, lets running jobs finish within the grace period, closes the store."""
        self.accepting = False
        await self.pollers.stop()
        left = await self.executor.drain(self.settings.shutdown_grace)
        if left:
            log.warning("jobs still running at the end of the grace period resume on the next start",
                        extra={"jobs": left})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.active is not None:
            await self.active.runtime.close()
        await self.store.close()

    async def store_ready(self) -> bool:
        try:
            return await asyncio.wait_for(self.store.ping(), 2.0)
        except Exception:
            return False

    async def _prune_loop(self) -> None:
        from datetime import UTC, datetime, timedelta

        while True:
            await asyncio.sleep(self.settings.prune_every)
            try:
                cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.retention_age)
                pruned = await self.store.prune(older_than=cutoff, keep_last=self.settings.retention_count)
                if pruned:
                    log.info("pruned job history", extra={"jobs": pruned})
            except Exception:
                log.exception("pruning job history failed")

    async def _watch(self) -> None:
        """`--reload`: reloads when a document file changes, appears or disappears."""
        last = _snapshot(self.active.files if self.active else [])
        while True:
            await asyncio.sleep(1.0)
            from runner.recipe.loader import find_files

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
