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
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from runner.engine.records import JobRecord, StepRecord
from runner.errors import StoreError
from runner.store.encoding import StepRow, aware, dumps, job_name, now_iso, step_rows
from runner.store import sqlite_queries as q
from runner.store.base import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE,
    DEFAULT_OWNER,
    FINISHED,
    Store,
    check_lease,
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

_JOB_FIELDS = [name.strip() for name in q.JOB_COLUMNS.split(",")]
_NO_BOUND = 2**63 - 1  # above every seq


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
        try:
            return bool(await self._read(_fetchone("SELECT 1"), "ping") == (1,))
        except Exception:  # noqa: BLE001 -- readiness is a yes or no
            return False

    async def enqueue(self, job: JobRecord, dedup_key: str | None = None) -> tuple[str, bool]:
        new = _encode_new(job, dedup_key)
        return await self._write(functools.partial(_insert_job, new=new), f"enqueuing {job_name(job)}")

    async def enqueue_claimed(
        self,
        job: JobRecord,
        dedup_key: str | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        owner: str = DEFAULT_OWNER,
        lease: float = DEFAULT_LEASE,
    ) -> tuple[str, bool, bool]:
        new = _encode_new(job, dedup_key)
        marks = {"now": now_iso(), "owner": owner, "lease_until": time.time() + check_lease(lease)}
        op = functools.partial(_insert_claimed, new=new, concurrency=concurrency, marks=marks)
        return await self._write(op, f"enqueuing {job_name(job)}")

    async def claim(
        self,
        limit: int,
        busy_recipes: Mapping[str, int],
        concurrency: Mapping[str, int],
        *,
        owner: str = DEFAULT_OWNER,
        lease: float = DEFAULT_LEASE,
    ) -> list[JobRecord]:
        lease_until = time.time() + check_lease(lease)
        if limit <= 0:
            return []
        # Copies: the writer thread must not read mappings the event loop may change meanwhile.
        marks = {"now": now_iso(), "owner": owner, "lease_until": lease_until}
        op = functools.partial(
            _claim, limit=limit, busy=dict(busy_recipes), concurrency=dict(concurrency), marks=marks
        )
        return await self._relaxed(op, "claiming jobs")

    async def checkpoint(self, job_id: str, step: StepRecord) -> None:
        record = (job_id, step.id, dumps(step.to_json()))
        what = f"checkpoint of job {job_id} step {step.id}"
        await self._relaxed(_rowcount(q.UPSERT_STEP, record), what)

    async def finish(self, job: JobRecord) -> None:
        if job.status not in FINISHED:
            raise ValueError(f"{job_name(job)}: finish needs succeeded or failed, not {job.status}")
        finished_at = job.finished_at or now_iso()
        values = (job.status, job.error, job.started_at, finished_at, _epoch(finished_at), job.id)
        steps = step_rows(job)
        op = functools.partial(_finish, job_id=job.id, values=values, steps=steps)
        await self._relaxed(op, f"finishing {job_name(job)}")

    async def recover(self) -> int:
        return await self._relaxed(_rowcount(q.REQUEUE_RUNNING), "recovering")

    async def heartbeat(self, owner: str, lease: float) -> None:
        values = (time.time() + check_lease(lease), owner)
        await self._relaxed(_rowcount(q.EXTEND_LEASES, values), f"extending the leases of {owner}")

    async def recover_expired(self) -> int:
        what = "requeuing jobs whose lease expired"
        return await self._relaxed(_rowcount(q.REQUEUE_EXPIRED, (time.time(),)), what)

    async def acquire_poll(self, recipe: str, owner: str, lease: float) -> bool:
        now = time.time()
        params = {"recipe": recipe, "owner": owner, "lease_until": now + check_lease(lease)}
        what = f"leasing the poll of recipe {recipe}"
        return await self._relaxed(_rowcount(q.ACQUIRE_POLL, {**params, "now": now}), what) > 0

    async def release_poll(self, recipe: str, owner: str) -> None:
        what = f"releasing the poll of recipe {recipe}"
        await self._relaxed(_rowcount(q.RELEASE_POLL, (recipe, owner)), what)

    @contextlib.asynccontextmanager
    async def token_lock(self, connection: str) -> AsyncIterator[None]:
        if self._writer is None:
            raise StoreError(f"locking the token of {connection}: the store is not open")
        lock = self._token_locks.setdefault(connection, asyncio.Lock())
        async with lock:
            yield

    async def get_job(self, job_id: str) -> JobRecord | None:
        op = functools.partial(_load_job, job_id=job_id)
        return await self._read(op, f"reading job {job_id}")

    async def list_jobs(
        self,
        *,
        recipe: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[JobRecord]:
        params = {"recipe": recipe, "status": status, "limit": max(limit, 0)}
        op = functools.partial(_list_jobs, params=params, before=before)
        return await self._read(op, "listing jobs")

    async def prune(
        self, *, older_than: datetime | None = None, keep_last: int | None = None
    ) -> int:
        if older_than is None and keep_last is None:
            return 0
        if keep_last is not None and keep_last < 0:
            raise ValueError(f"keep_last must not be negative, not {keep_last}")
        cutoff = None if older_than is None else aware(older_than).timestamp()
        params = {"cutoff": cutoff, "keep": keep_last or 0}
        return await self._relaxed(_rowcount(q.PRUNE_FINISHED, params), "pruning")

    async def queue_depth(self) -> int:
        row = await self._read(_fetchone(q.QUEUE_DEPTH), "reading the queue depth")
        return int(row[0]) if row else 0

    async def load_poll_state(self, recipe: str) -> dict[str, Any] | None:
        what = f"reading the poll state of recipe {recipe}"
        row = await self._read(_fetchone(q.SELECT_POLL_STATE, (recipe,)), what)
        state: dict[str, Any] | None = None if row is None else json.loads(row[0])
        return state

    async def commit_poll(self, recipe: str, state: dict[str, Any], jobs: list[JobRecord]) -> None:
        new = [_encode_new(job, None) for job in jobs]
        op = functools.partial(_commit_poll, state=(recipe, dumps(state), now_iso()), new=new)
        # A poll that emitted nothing promised nothing: losing its state to a power cut only
        # means polling the same records again, and they are still seen as known or new alike.
        await self._write(op, f"committing a poll of recipe {recipe}", durable=bool(jobs))

    async def get_token(self, connection: str) -> bytes | None:
        what = f"reading the token of connection {connection}"
        row = await self._read(_fetchone(q.SELECT_TOKEN, (connection,)), what)
        return None if row is None else bytes(row[0])

    async def put_token(self, connection: str, blob: bytes) -> None:
        values = (connection, bytes(blob), now_iso())
        await self._write(_rowcount(q.UPSERT_TOKEN, values), f"storing the token of {connection}")

    async def delete_token(self, connection: str) -> None:
        what = f"deleting the token of {connection}"
        await self._write(_rowcount(q.DELETE_TOKEN, (connection,)), what)

    async def _write(self, op: Op[T], what: str, durable: bool = True) -> T:
        if self._writer is None:
            raise StoreError(f"{what}: the store is not open")
        return await self._writer.run(op, what, durable)

    async def _relaxed(self, op: Op[T], what: str) -> T:
        """A write whose loss in a power cut costs a repeat, never an event: job progress,
        leases, pruning. Accepted events and poll results always commit durably."""
        return await self._write(op, what, durable=False)

    async def _read(self, op: Op[T], what: str) -> T:
        if self._reader is None:  # an in-memory database has only the writer's connection
            return await self._write(op, what)
        return await self._reader.run(op, what)


@dataclass(frozen=True)
class _NewJob:
    """A job encoded for insertion, prepared on the event loop so the writer only writes."""

    id: str
    recipe: str
    dedup_key: str | None
    row: tuple[Any, ...]
    steps: list[StepRow]


def _encode_new(job: JobRecord, dedup_key: str | None) -> _NewJob:
    if job.status != "queued":
        raise ValueError(f"{job_name(job)}: only a queued job can be enqueued, not a {job.status} one")
    row = (
        job.id, job.recipe, dumps(job.event), job.created_at, job.started_at,
        job.finished_at, job.error, job.replay_of, dedup_key,
    )
    return _NewJob(job.id, job.recipe, dedup_key, row, step_rows(job))




def _insert_job(conn: sqlite3.Connection, new: _NewJob) -> tuple[str, bool]:
    if new.dedup_key is not None:
        found = conn.execute(q.JOB_ID_BY_DEDUP, (new.recipe, new.dedup_key)).fetchone()
        if found is not None:
            return str(found[0]), False
    conn.execute(q.INSERT_JOB, new.row)
    conn.executemany(q.INSERT_STEP_IF_NEW, new.steps)
    return new.id, True


def _insert_claimed(
    conn: sqlite3.Connection, new: _NewJob, concurrency: int, marks: dict[str, Any]
) -> tuple[str, bool, bool]:
    """Inserts the job; marks it running when its recipe has a free slot and no queue."""
    job_id, created = _insert_job(conn, new)
    if not created:
        return job_id, False, False
    running = conn.execute(q.RUNNING_OF_RECIPE, (new.recipe,)).fetchone()[0]
    if running >= concurrency:
        return job_id, True, False
    seq = conn.execute(q.SEQ_OF_JOB, (new.id,)).fetchone()[0]
    ahead = conn.execute(q.QUEUED_OF_RECIPE_BEFORE, (new.recipe, seq)).fetchone()
    if ahead is not None:
        return job_id, True, False
    conn.execute(q.MARK_RUNNING, {**marks, "seq": seq})
    return job_id, True, True


def _commit_poll(conn: sqlite3.Connection, state: tuple[str, str, str], new: list[_NewJob]) -> None:
    conn.execute(q.UPSERT_POLL_STATE, state)
    for job in new:
        _insert_job(conn, job)


def _claim(
    conn: sqlite3.Connection,
    limit: int,
    busy: dict[str, int],
    concurrency: dict[str, int],
    marks: dict[str, Any],
) -> list[JobRecord]:
    """Each recipe offers the head of its queue, as long as it has free slots; oldest win."""
    running = dict(conn.execute(q.RUNNING_COUNTS).fetchall())
    offered: list[tuple[int, str]] = []
    for (recipe,) in conn.execute(q.QUEUED_RECIPES).fetchall():
        taken = max(running.get(recipe, 0), busy.get(recipe, 0))
        slots = min(concurrency.get(recipe, DEFAULT_CONCURRENCY) - taken, limit)
        if slots > 0:
            offered += conn.execute(q.QUEUE_HEAD_OF_RECIPE, (recipe, slots)).fetchall()
    chosen = sorted(offered)[:limit]
    conn.executemany(q.MARK_RUNNING, [{**marks, "seq": seq} for seq, _ in chosen])
    return [job for _, job_id in chosen if (job := _load_job(conn, job_id)) is not None]


def _finish(
    conn: sqlite3.Connection, job_id: str, values: tuple[Any, ...], steps: list[StepRow]
) -> None:
    if conn.execute(q.FINISH_JOB, values).rowcount == 0:
        raise StoreError(f"job {job_id} is not in the store")
    conn.executemany(q.INSERT_STEP_IF_NEW, steps)


def _load_job(conn: sqlite3.Connection, job_id: str) -> JobRecord | None:
    row = conn.execute(q.SELECT_JOB, (job_id,)).fetchone()
    if row is None:
        return None
    steps = [json.loads(record) for (record,) in conn.execute(q.SELECT_STEPS, (job_id,))]
    return _job_from_row(row, steps)


def _list_jobs(
    conn: sqlite3.Connection, params: dict[str, Any], before: str | None
) -> list[JobRecord]:
    bound = _NO_BOUND
    if before is not None:
        found = conn.execute(q.SEQ_OF_JOB, (before,)).fetchone()
        if found is None:
            raise StoreError(f"there is no job {before} to list the jobs before")
        bound = found[0]
    rows = conn.execute(q.LIST_JOBS, {**params, "before": bound}).fetchall()
    return [_job_from_row(row, []) for row in rows]


def _job_from_row(row: tuple[Any, ...], steps: list[dict[str, Any]]) -> JobRecord:
    data = dict(zip(_JOB_FIELDS, row, strict=True))
    return JobRecord.from_json({**data, "event": json.loads(data["event"]), "steps": steps})


def _rowcount(sql: str, params: Any = ()) -> Op[int]:
    return lambda conn: conn.execute(sql, params).rowcount


def _fetchone(sql: str, params: Any = ()) -> Op[Any]:
    return lambda conn: conn.execute(sql, params).fetchone()










def _epoch(text: str) -> float:
    """Unix seconds of an ISO timestamp (naive ones are UTC); now, when it cannot be read."""
    try:
        return aware(datetime.fromisoformat(text)).timestamp()
    except ValueError:
        return time.time()
