"""The PostgreSQL job store: one database shared by any number of `runner serve` replicas.

URL: `postgresql://user:password@host:port/database` (or `postgres://`), as libpq and asyncpg
read it (`sslmode=` and the like pass through). The store's own query options:

    schema=NAME        the schema holding the store's tables, created on first open (default
                       public); lowercase letters, digits and _. Lets stores share a database.
    pool_min=N         connections kept open (default 1)
    pool_max=N         connections at most (default 10, at least 2); a claim or a held
                       `token_lock` takes one

Every call runs in its own transaction and has committed when it returns. Migrations (numbered
files in migrations/postgres/, applied by `postgres_conn.migrate`) run under a transaction-level
advisory lock, so replicas starting at once apply each exactly once. Claims are serialized by
a second advisory lock (see `PostgresStore.claim`); token refreshes by a session-level one per
connection. Both need
session-level connections: behind PgBouncer, use session pooling, not transaction pooling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from runner.engine.records import JobRecord, StepRecord
from runner.errors import StoreError
from runner.store import postgres_queries as q
from runner.store.base import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE,
    DEFAULT_OWNER,
    FINISHED,
    Claimed,
    JobMissing,
    LeaseLost,
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
from runner.store.postgres_conn import (
    CONNECT_TIMEOUT,
    DB_ERRORS,
    PostgresSettings,
    db_error,
    keep_session,
    load_migrations,
    migrate,
    settings_from_url,
)

_JOB_FIELDS = [name.strip() for name in q.JOB_COLUMNS.split(",")]
_CLOSE_TIMEOUT = 30.0  # seconds close waits for calls in flight before cutting connections
_PING_TIMEOUT = 5.0
_Row = tuple[Any, ...]

__all__ = ["PostgresSettings", "PostgresStore", "settings_from_url"]


class PostgresStore(Store):
    """Jobs, poll state and tokens in PostgreSQL; see `Store` for what each method promises."""

    multi_process = True

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self._pool: Any = None  # asyncpg.Pool while open
        self._token_locks: dict[str, asyncio.Lock] = {}
        self._token_slots = asyncio.Semaphore(settings.pool_max - 1)

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        return cls(settings_from_url(url))

    async def open(self) -> None:
        target = self.settings.target
        if self._pool is not None:
            raise StoreError(f"{target}: the store is already open")
        try:
            self._pool = await asyncpg.create_pool(
                self.settings.dsn,
                min_size=self.settings.pool_min,
                max_size=self.settings.pool_max,
                server_settings={"search_path": f'"{self.settings.schema}"'},
                reset=keep_session,
                timeout=CONNECT_TIMEOUT,
            )
        except DB_ERRORS as exc:
            raise db_error(f"opening {target}", exc) from exc
        try:
            async with self._transaction(f"migrating {target}") as conn:
                await migrate(conn, self.settings.schema, load_migrations())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
        except TimeoutError:
            pool.terminate()

    async def ping(self) -> bool:
        pool = self._pool
        if pool is None:
            return False
        try:
            return bool(await asyncio.wait_for(pool.fetchval("SELECT 1"), _PING_TIMEOUT) == 1)
        except Exception:  # noqa: BLE001 -- readiness is a yes or no
            return False

    async def enqueue(self, job: JobRecord, dedup_key: str | None = None) -> tuple[str, bool]:
        row, steps = _encode_new(job, dedup_key)
        what = f"enqueuing {job_name(job)}"
        if steps:  # the job and its steps together
            async with self._transaction(what) as conn:
                inserted = await conn.fetchval(q.INSERT_JOB, *row)
                if inserted is not None:
                    await conn.executemany(q.INSERT_STEP_IF_NEW, steps)
        else:  # the usual new job: one statement, one round trip
            inserted = await self._call(what, "fetchval", q.INSERT_JOB, *row)
        if inserted is not None:
            return str(inserted), True
        # The recipe has a job with this dedup key (committed: the insert waited for it).
        first = await self._call(what, "fetchval", q.JOB_ID_BY_DEDUP, job.recipe, dedup_key)
        if first is None:
            raise StoreError(f"{job_name(job)}: its duplicate was pruned meanwhile; retry")
        return str(first), False

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
        """Claims under one advisory lock per schema, held until the claim commits.

        Why a lock and not SKIP LOCKED alone: per-recipe concurrency needs each claimer to see
        the jobs other claimers just marked running, and ordering forbids taking a recipe's
        second job while its first is merely locked. Under the lock, each claim starts after the
        previous one committed, so its running counts (a fresh READ COMMITTED snapshot taken
        after the lock) are exact and two replicas cannot both take a concurrency-1 recipe's
        job. Rows are locked FOR NO KEY UPDATE but never skipped: no other claimer can hold
        them, and skipping one that a late `finish` holds would let a later job overtake it.
        A claim lasts a few milliseconds, so serializing claims costs little next to the jobs.

        Order is `seq`, drawn when a job is inserted: a job whose enqueue returned before
        another's began runs first; of two enqueues in flight at once, either may.
        """
        seconds = check_lease(lease)
        if limit <= 0:
            return Claimed(backlog=True)  # nothing looked at: there may be queued jobs
        async with self._transaction("claiming jobs") as conn:
            await conn.execute(q.LOCK_XACT, q.CLAIM_LOCKS, self.settings.schema)
            offered = None if recipes is None else list(recipes)
            counts = await conn.fetch(q.RECIPES_TO_CLAIM, offered)
            offers = _offers(counts, limit, busy_recipes, concurrency)
            if not offers:
                return Claimed(backlog=bool(counts))
            recipes, slots = [list(column) for column in zip(*offers, strict=True)]
            rows = await conn.fetch(q.CLAIM_HEADS, recipes, slots, limit, now_iso(), owner, seconds)
        jobs = (_job_from_row(row) for row in sorted(rows, key=lambda row: row["seq"]))
        return Claimed(jobs, backlog=True)

    async def checkpoint(self, job_id: str, step: StepRecord, *, owner: str | None = None) -> None:
        what = f"checkpoint of job {job_id} step {step.id}"
        record = (job_id, step.id, dumps(step))
        if owner is None:
            await self._call(what, "execute", q.UPSERT_STEP, *record)
        elif await self._call(what, "fetchval", q.UPSERT_OWNED_STEP, *record, owner) is None:
            raise await self._refusal(what, job_id, owner)

    async def finish(self, job: JobRecord, *, owner: str | None = None) -> None:
        if job.status not in FINISHED:
            raise ValueError(f"{job_name(job)}: finish needs succeeded or failed, not {job.status}")
        finished_at = job.finished_at or now_iso()
        values = (job.status, job.error, job.started_at, finished_at, _moment(finished_at), job.id)
        steps = [(step_id, record) for _, step_id, record in step_rows(job)]
        columns = [list(column) for column in zip(*steps, strict=True)] if steps else [[], []]
        what = f"finishing {job_name(job)}"
        if await self._call(what, "fetchval", q.FINISH_JOB, *values, *columns, owner) is None:
            raise await self._refusal(what, job.id, owner)

    async def _refusal(self, what: str, job_id: str, owner: str | None) -> StoreError:
        """Why a job's write found no row: an unknown job, or (fenced) a claim `owner` lost."""
        if owner is None or await self._call(what, "fetchval", q.SEQ_OF_JOB, job_id) is None:
            return JobMissing(f"job {job_id} is not in the store")
        return LeaseLost(f"job {job_id} is no longer running under the lease of {owner}")

    async def recover(self) -> int:
        return int(await self._call("recovering", "fetchval", q.REQUEUE_RUNNING))

    async def release_jobs(self, owner: str) -> int:
        what = f"requeuing the jobs of {owner}"
        return int(await self._call(what, "fetchval", q.REQUEUE_OWNED, owner))

    async def release_job(self, job_id: str, owner: str) -> bool:
        what = f"requeuing job {job_id} of {owner}"
        return await self._call(what, "fetchval", q.REQUEUE_OWNED_JOB, owner, job_id) is not None

    async def heartbeat(self, owner: str, lease: float) -> None:
        what = f"extending the leases of {owner}"
        await self._call(what, "execute", q.EXTEND_LEASES, owner, check_lease(lease))

    async def recover_expired(self) -> int:
        what = "requeuing jobs whose lease expired"
        return int(await self._call(what, "fetchval", q.REQUEUE_EXPIRED))

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._call(f"reading job {job_id}", "fetchrow", q.SELECT_JOB, job_id)
        return None if row is None else _job_from_row(row)

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
        bound = None
        if before is not None:
            bound = await self._call("listing jobs", "fetchval", q.SEQ_OF_JOB, before)
            if bound is None:
                raise StoreError(f"there is no job {before} to list the jobs before")
        low = 0 if since is None else await self._seq_from(since)
        if until is not None:
            end = await self._seq_from(until)
            bound = end if bound is None else min(bound, end)
        params = (recipe, status, bound, max(limit, 0), since, until, low)
        rows = await self._call("listing jobs", "fetch", q.LIST_JOBS, *params)
        return [_job_from_row(row) for row in rows]

    async def _seq_from(self, when: str) -> int:
        """See `sqlite_ops.seq_from`: the same bisection, as one recursive query."""
        return int(await self._call("listing jobs", "fetchval", q.SEQ_FROM, when) or 0)

    async def recipe_activity(
        self, recipes: Collection[str], since: str
    ) -> dict[str, RecipeActivity]:
        names = list(recipes)
        found = {name: RecipeActivity(name) for name in names}
        what = "reading the recipes' activity"
        async with self._transaction(what) as conn:  # one pooled connection for the three
            for row in await conn.fetch(q.COUNTS_SINCE, names, since[:16]):
                found[row["recipe"]].counts[row["status"]] = row["n"]
            for row in await conn.fetch(q.UNFINISHED_COUNTS, names):
                setattr(found[row["recipe"]], row["status"], row["n"])
            for row in await conn.fetch(q.NEWEST_OF_RECIPES, names):
                found[row["recipe"]].last = _job_from_row(row)
        return found

    async def finished_per_minute(self, since: str) -> list[MinuteCount]:
        what = "counting jobs per minute"
        rows = await self._call(what, "fetch", q.FINISHED_PER_MINUTE, since[:16])
        return [MinuteCount(r["recipe"], r["minute"], r["status"], r["n"]) for r in rows]

    async def prune(
        self, *, older_than: datetime | None = None, keep_last: int | None = None
    ) -> int:
        if older_than is None and keep_last is None:
            return 0
        if keep_last is not None and keep_last < 0:
            raise ValueError(f"keep_last must not be negative, not {keep_last}")
        cutoff = None if older_than is None else aware(older_than)
        await self._call("pruning", "execute", q.PRUNE_MINUTES, minutes_kept_from())
        pruned = await self._call("pruning", "fetchval", q.PRUNE_FINISHED, cutoff, keep_last or 0)
        return int(pruned)

    async def queue_depth(self) -> int:
        return int(await self._call("reading the queue depth", "fetchval", q.QUEUE_DEPTH))

    async def load_poll_state(self, recipe: str) -> dict[str, Any] | None:
        what = f"reading the poll state of recipe {recipe}"
        text = await self._call(what, "fetchval", q.SELECT_POLL_STATE, recipe)
        state: dict[str, Any] | None = None if text is None else json.loads(text)
        return state

    async def commit_poll(self, recipe: str, state: dict[str, Any], jobs: list[JobRecord]) -> None:
        new = [_encode_new(job, None) for job in jobs]
        async with self._transaction(f"committing a poll of recipe {recipe}") as conn:
            await conn.execute(q.UPSERT_POLL_STATE, recipe, dumps(state))
            if new:
                await conn.executemany(q.INSERT_JOB, [row for row, _ in new])
            steps = [step for _, job_steps in new for step in job_steps]
            if steps:
                await conn.executemany(q.INSERT_STEP_IF_NEW, steps)

    async def acquire_poll(self, recipe: str, owner: str, lease: float) -> bool:
        what, seconds = f"leasing the poll of recipe {recipe}", check_lease(lease)
        holder = await self._call(what, "fetchval", q.ACQUIRE_POLL, recipe, owner, seconds)
        return holder is not None

    async def release_poll(self, recipe: str, owner: str) -> None:
        what = f"releasing the poll of recipe {recipe}"
        await self._call(what, "execute", q.RELEASE_POLL, recipe, owner)

    @contextlib.asynccontextmanager
    async def token_lock(self, connection: str) -> AsyncIterator[None]:
        """A session-level advisory lock on a pooled connection, held while the block runs.

        Tasks of this process queue on a local lock first, and at most pool_max - 1 token locks
        hold a connection at once, so the holder always finds one free for its `get_token` and
        `put_token`. A replica that dies holding the lock loses its connection, and with it the
        lock; a connection whose lock or unlock was interrupted is closed, never pooled locked.
        """
        what = f"locking the token of {connection}"
        pool = self._open_pool(what)
        local = self._token_locks.setdefault(connection, asyncio.Lock())
        async with local, self._token_slots:
            try:
                conn = await pool.acquire()
            except DB_ERRORS as exc:
                raise db_error(what, exc) from exc
            key = (q.TOKEN_LOCKS, f"{self.settings.schema}/{connection}")
            try:
                try:
                    await conn.execute(q.LOCK_SESSION, *key)
                except BaseException as exc:
                    conn.terminate()  # the lock may have been granted: never pool it locked
                    if isinstance(exc, DB_ERRORS):
                        raise db_error(what, exc) from exc
                    raise
                try:
                    yield
                finally:
                    try:
                        await conn.execute(q.UNLOCK_SESSION, *key)
                    except BaseException as exc:
                        conn.terminate()  # ends the session, and with it the lock
                        if not isinstance(exc, DB_ERRORS):
                            raise
            finally:
                await pool.release(conn)

    async def get_token(self, connection: str) -> bytes | None:
        what = f"reading the token of connection {connection}"
        blob = await self._call(what, "fetchval", q.SELECT_TOKEN, connection)
        return None if blob is None else bytes(blob)

    async def put_token(self, connection: str, blob: bytes) -> None:
        what = f"storing the token of {connection}"
        await self._call(what, "execute", q.UPSERT_TOKEN, connection, bytes(blob))

    async def delete_token(self, connection: str) -> None:
        what = f"deleting the token of {connection}"
        await self._call(what, "execute", q.DELETE_TOKEN, connection)

    def _open_pool(self, what: str) -> Any:
        if self._pool is None:
            raise StoreError(f"{what}: the store is not open")
        return self._pool

    async def _call(self, what: str, method: str, sql: str, *args: Any) -> Any:
        """One statement in its own transaction: the pool's `execute`, `fetch`, `fetchval`..."""
        pool = self._open_pool(what)
        try:
            return await getattr(pool, method)(sql, *args)
        except DB_ERRORS as exc:
            raise db_error(what, exc) from exc

    @contextlib.asynccontextmanager
    async def _transaction(self, what: str) -> AsyncIterator[Any]:
        """A pooled connection in a transaction, committed when the block ends without error."""
        pool = self._open_pool(what)
        try:
            async with pool.acquire() as conn, conn.transaction():
                yield conn
        except DB_ERRORS as exc:
            raise db_error(what, exc) from exc


def _offers(
    counts: Sequence[Any],
    limit: int,
    busy: Mapping[str, int],
    concurrency: Mapping[str, int],
) -> list[tuple[str, int]]:
    """How many jobs each recipe with queued jobs may start now: (recipe, free slots)."""
    offers: list[tuple[str, int]] = []
    for recipe, running in counts:
        taken = max(int(running), busy.get(recipe, 0))
        slots = min(concurrency.get(recipe, DEFAULT_CONCURRENCY) - taken, limit)
        if slots > 0:
            offers.append((recipe, slots))
    return offers


def _encode_new(job: JobRecord, dedup_key: str | None) -> tuple[_Row, list[_Row]]:
    if job.status != "queued":
        raise ValueError(
            f"{job_name(job)}: only a queued job can be enqueued, not a {job.status} one"
        )
    row = (
        job.id, job.recipe, dumps(job.event), job.created_at, job.started_at,
        job.finished_at, job.error, job.replay_of, dedup_key,
    )
    return row, step_rows(job)


def _job_from_row(row: Any) -> JobRecord:
    data = {name: row[name] for name in _JOB_FIELDS}
    steps = [json.loads(record) for record in row["steps"]] if "steps" in row else []
    return JobRecord.from_json({**data, "event": json.loads(data["event"]), "steps": steps})


def _moment(text: str) -> datetime:
    """The time an ISO timestamp names (naive ones are UTC); now, when it cannot be read."""
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        return datetime.now(UTC)
