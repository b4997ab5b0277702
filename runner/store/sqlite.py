"""The SQLite job store: one file in WAL mode, all writes committed by a group-commit thread.

URL: `sqlite:///relative/path.db` (from the working directory), `sqlite:////absolute/path.db`, or
`sqlite://:memory:` (a private database that lives until `close`, for tests and dry runs). The file
and its folder are created on first `open`. Query options:

    synchronous=full|normal|extra|off   full (default): a commit survives power loss; normal: it
                                        survives a process crash but maybe not an OS crash

With `full`, what the runner promises durably is committed with FULL: accepted events (`enqueue`),
poll results, tokens. Job progress (claims, checkpoints, finishing, leases) commits with NORMAL
when a batch holds nothing else: a process crash loses none of it (WAL), a power cut may lose the
last moments of it, which costs a step sent again with the same Idempotency-Key, never an event.
    busy_timeout=MILLISECONDS           how long to wait for another process's lock (default 5000)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from runner.engine.records import JobRecord, StepRecord
from runner.errors import StoreError
from runner.store import sqlite_ops as ops
from runner.store import sqlite_queries as q
from runner.store.base import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE,
    DEFAULT_OWNER,
    FINISHED,
    Claimed,
    MinuteCount,
    RecipeActivity,
    Store,
    check_lease,
)
from runner.store.encoding import (
    aware,
    dumps,
    job_name,
    minutes_kept_from,
    now_iso,
    step_rows,
)
from runner.store.sqlite_conn import (
    MEMORY,
    Op,
    Reader,
    Settings,
    T,
    Writer,
    load_migrations,
    migrate,
)


def settings_from_url(url: str) -> Settings:
    """The settings a `sqlite:` URL names; a `StoreError` says what is wrong with a bad one."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise StoreError(f"{url}: not a sqlite: URL")
    if parts.netloc == MEMORY and not parts.path:
        path = MEMORY
    elif parts.netloc or not parts.path[1:]:
        raise StoreError(
            f"{url}: expected sqlite:///relative/path.db, sqlite:////absolute/path.db"
            " or sqlite://:memory:"
        )
    else:
        path = os.path.abspath(unquote(parts.path[1:]))
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"synchronous", "busy_timeout"})
    if unknown:
        raise StoreError(f"{url}: unknown option {unknown[0]!r} (known: synchronous, busy_timeout)")
    timeout = options.get("busy_timeout", "5000")
    if not timeout.isdigit():
        raise StoreError(f"{url}: busy_timeout must be a number of milliseconds")
    try:
        return Settings(path, options.get("synchronous", "full").lower(), int(timeout))
    except StoreError as exc:
        raise StoreError(f"{url}: {exc}") from exc


class SQLiteStore(Store):
    """Jobs, poll state and tokens in one SQLite file; see `Store` for what each method promises.

    Leases work as the contract says, timed by this machine's clock; token locks are held within
    this store object only (one process is what SQLite is for).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._writer: Writer | None = None
        self._reader: Reader | None = None
        self._token_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(settings_from_url(url))

    @property
    def commits(self) -> int:
        """Transactions committed since `open`; group commit keeps it far below the writes."""
        return self._writer.commits if self._writer else 0

    async def open(self) -> None:
        if self._writer is not None:
            raise StoreError(f"{self.settings.path}: the store is already open")
        if self.settings.path != MEMORY:
            try:
                Path(self.settings.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.settings.path}: cannot create its folder: {exc}") from exc
        self._writer = Writer(self.settings)
        try:
            await self._writer.start()
            await self._write(functools.partial(migrate, migrations=load_migrations()), "migrating")
            if self.settings.path != MEMORY:
                self._reader = Reader(self.settings)
                await self._reader.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, reader, self._writer, self._reader = self._writer, self._reader, None, None
        if reader is not None:
            await reader.stop()
        if writer is not None:
            await writer.stop()

    async def ping(self) -> bool:
        """Through the writer: a store that can be read but not written (another process holds
        the file's write lock) cannot take webhooks, so it is not ready. The caller bounds the
        wait; a lock makes this wait for SQLite's busy timeout."""
        try:
            return bool(await self._relaxed(ops.fetchone("SELECT 1"), "ping") == (1,))
        except Exception:  # noqa: BLE001 -- readiness is a yes or no
            return False

    async def enqueue(self, job: JobRecord, dedup_key: str | None = None) -> tuple[str, bool]:
        new = ops.encode_new(job, dedup_key)
        op = functools.partial(ops.insert_job, new=new)
        return await self._write(op, f"enqueuing {job_name(job)}")

    async def enqueue_claimed(
        self,
        job: JobRecord,
        dedup_key: str | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        owner: str = DEFAULT_OWNER,
        lease: float = DEFAULT_LEASE,
    ) -> tuple[str, bool, bool]:
        new = ops.encode_new(job, dedup_key)
        marks = {"now": now_iso(), "owner": owner, "lease_until": time.time() + check_lease(lease)}
        op = functools.partial(ops.insert_claimed, new=new, concurrency=concurrency, marks=marks)
        return await self._write(op, f"enqueuing {job_name(job)}")

    async def claim(
        self,
        limit: int,
        busy_recipes: Mapping[str, int],
        concurrency: Mapping[str, int],
        *,
        owner: str = DEFAULT_OWNER,
        lease: float = DEFAULT_LEASE,
        recipes: Collection[str] | None = None,
    ) -> Claimed:
        lease_until = time.time() + check_lease(lease)
        if limit <= 0:
            return Claimed(backlog=True)  # nothing looked at: there may be queued jobs
        # Copies: the writer thread must not read mappings the event loop may change meanwhile.
        marks = {"now": now_iso(), "owner": owner, "lease_until": lease_until}
        op = functools.partial(
            ops.claim, limit=limit, busy=dict(busy_recipes), concurrency=dict(concurrency),
            marks=marks, offered=None if recipes is None else frozenset(recipes),
        )
        return await self._relaxed(op, "claiming jobs")

    async def checkpoint(self, job_id: str, step: StepRecord, *, owner: str | None = None) -> None:
        what = f"checkpoint of job {job_id} step {step.id}"
        if owner is None:
            record = (job_id, step.id, dumps(step))
            await self._relaxed(ops.rowcount(q.UPSERT_STEP, record), what)
            return
        params = {"job_id": job_id, "step_id": step.id, "record": dumps(step),
                  "owner": owner}
        op = functools.partial(ops.fenced, sql=q.UPSERT_OWNED_STEP, params=params, job_id=job_id)
        await self._relaxed(op, what)

    async def finish(self, job: JobRecord, *, owner: str | None = None) -> None:
        if job.status not in FINISHED:
            raise ValueError(f"{job_name(job)}: finish needs succeeded or failed, not {job.status}")
        finished_at = job.finished_at or now_iso()
        values = {
            "status": job.status, "error": job.error, "started_at": job.started_at,
            "finished_at": finished_at, "finished_ts": _epoch(finished_at), "id": job.id,
            "owner": owner,
        }
        op = functools.partial(ops.finish, values=values, steps=step_rows(job))
        await self._relaxed(op, f"finishing {job_name(job)}")

    async def recover(self) -> int:
        return await self._relaxed(ops.rowcount(q.REQUEUE_RUNNING), "recovering")

    async def release_jobs(self, owner: str) -> int:
        what = f"requeuing the jobs of {owner}"
        return await self._relaxed(ops.rowcount(q.REQUEUE_OWNED, (owner,)), what)

    async def release_job(self, job_id: str, owner: str) -> bool:
        what = f"requeuing job {job_id} of {owner}"
        return bool(await self._relaxed(ops.rowcount(q.REQUEUE_OWNED_JOB, (owner, job_id)), what))

    async def heartbeat(self, owner: str, lease: float) -> None:
        values = (time.time() + check_lease(lease), owner)
        what = f"extending the leases of {owner}"
        await self._relaxed(ops.rowcount(q.EXTEND_LEASES, values), what)

    async def recover_expired(self) -> int:
        what = "requeuing jobs whose lease expired"
        return await self._relaxed(ops.rowcount(q.REQUEUE_EXPIRED, (time.time(),)), what)

    async def acquire_poll(self, recipe: str, owner: str, lease: float) -> bool:
        now = time.time()
        params = {"recipe": recipe, "owner": owner, "lease_until": now + check_lease(lease)}
        what = f"leasing the poll of recipe {recipe}"
        return await self._relaxed(ops.rowcount(q.ACQUIRE_POLL, {**params, "now": now}), what) > 0

    async def release_poll(self, recipe: str, owner: str) -> None:
        what = f"releasing the poll of recipe {recipe}"
        await self._relaxed(ops.rowcount(q.RELEASE_POLL, (recipe, owner)), what)

    @contextlib.asynccontextmanager
    async def token_lock(self, connection: str) -> AsyncIterator[None]:
        if self._writer is None:
            raise StoreError(f"locking the token of {connection}: the store is not open")
        lock = self._token_locks.setdefault(connection, asyncio.Lock())
        async with lock:
            yield

    async def get_job(self, job_id: str) -> JobRecord | None:
        op = functools.partial(ops.load_job, job_id=job_id)
        return await self._read(op, f"reading job {job_id}")

    async def list_jobs(
        self,
        *,
        recipe: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[JobRecord]:
        params = {"recipe": recipe, "status": status, "limit": max(limit, 0),
                  "since": since, "until": until}
        op = functools.partial(ops.list_jobs, params=params, before=before)
        return await self._read(op, "listing jobs")

    async def recipe_activity(
        self, recipes: Collection[str], since: str
    ) -> dict[str, RecipeActivity]:
        op = functools.partial(ops.recipe_activity, recipes=list(recipes), since=since)
        return await self._read(op, "reading the recipes' activity")

    async def finished_per_minute(self, since: str) -> list[MinuteCount]:
        op = functools.partial(ops.finished_per_minute, since=since)
        return await self._read(op, "counting jobs per minute")

    async def prune(
        self, *, older_than: datetime | None = None, keep_last: int | None = None
    ) -> int:
        if older_than is None and keep_last is None:
            return 0
        if keep_last is not None and keep_last < 0:
            raise ValueError(f"keep_last must not be negative, not {keep_last}")
        cutoff = None if older_than is None else aware(older_than).timestamp()
        params = {"cutoff": cutoff, "keep": keep_last or 0}
        op = functools.partial(ops.prune, params=params, minutes_before=minutes_kept_from())
        return await self._relaxed(op, "pruning")

    async def queue_depth(self) -> int:
        row = await self._read(ops.fetchone(q.QUEUE_DEPTH), "reading the queue depth")
        return int(row[0]) if row else 0

    async def load_poll_state(self, recipe: str) -> dict[str, Any] | None:
        what = f"reading the poll state of recipe {recipe}"
        row = await self._read(ops.fetchone(q.SELECT_POLL_STATE, (recipe,)), what)
        state: dict[str, Any] | None = None if row is None else json.loads(row[0])
        return state

    async def commit_poll(self, recipe: str, state: dict[str, Any], jobs: list[JobRecord]) -> None:
        new = [ops.encode_new(job, None) for job in jobs]
        op = functools.partial(ops.commit_poll, state=(recipe, dumps(state), now_iso()), new=new)
        # A poll that emitted nothing promised nothing: losing its state to a power cut only
        # means polling the same records again, and they are still seen as known or new alike.
        await self._write(op, f"committing a poll of recipe {recipe}", durable=bool(jobs))

    async def get_token(self, connection: str) -> bytes | None:
        what = f"reading the token of connection {connection}"
        row = await self._read(ops.fetchone(q.SELECT_TOKEN, (connection,)), what)
        return None if row is None else bytes(row[0])

    async def put_token(self, connection: str, blob: bytes) -> None:
        values = (connection, bytes(blob), now_iso())
        what = f"storing the token of {connection}"
        await self._write(ops.rowcount(q.UPSERT_TOKEN, values), what)

    async def delete_token(self, connection: str) -> None:
        what = f"deleting the token of {connection}"
        await self._write(ops.rowcount(q.DELETE_TOKEN, (connection,)), what)

    def _write(self, op: Op[T], what: str, durable: bool = True) -> Awaitable[T]:
        """`op` in the writer's next commit; await the result (plain functions, not coroutines,
        so a write costs its caller one await, not three)."""
        if self._writer is None:
            raise StoreError(f"{what}: the store is not open")
        return self._writer.submit(op, what, durable)

    def _relaxed(self, op: Op[T], what: str) -> Awaitable[T]:
        """A write whose loss in a power cut costs a repeat, never an event: job progress,
        leases, pruning. Accepted events and poll results always commit durably."""
        return self._write(op, what, durable=False)

    def _read(self, op: Op[T], what: str) -> Awaitable[T]:
        if self._reader is None:  # an in-memory database has only the writer's connection
            return self._write(op, what)
        return self._reader.run(op, what)


def _epoch(text: str) -> float:
    """Unix seconds of an ISO timestamp (naive ones are UTC); now, when it cannot be read."""
    try:
        return aware(datetime.fromisoformat(text)).timestamp()
    except ValueError:
        return time.time()
